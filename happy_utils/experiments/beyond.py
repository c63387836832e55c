"""Beyond the paper (issue 30): do the guarded searches make realistic faces that smile more? Each variant's seeds
measured against the issue's goals, by the ground truth the optimiser never sees (the realism judge and the
re-render's true degree).

Why: the paper's method keeps 4% of the decoder's own valid share, and its best realistic query stays near the best
training face. The goals say what "solved" would mean, per seed and pooled, so a screening (2 seeds x 40 queries) and
the full runs (5 seeds x 100) are read the same way, and every goal is reported as met or missed with its figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import metrics
from ..files import write_text
from . import summaries
from .seed_measures import read_seed

#: The issue's goals: the pooled valid share, a realistic level-4 smile (valid, true degree >= 3.5) on this many
#: seeds of five, every seed's best valid query at least this true degree (the best training face: 2.50).
VALID_SHARE, LEVEL_4, LEVEL_4_SEEDS_OF_5, BEST_VALID_TRUE = 0.30, 3.5, 3, 3.0


def seed_goals(measured: dict, budget: int) -> dict:
    """One seed's figures for the goals over its first `budget` queries: valid count, best valid true degree,
    realistic level-4 smiles, the valid queries' oracle Top10 (None, n/a, below 10 valid)."""
    records = measured["records"][:budget]
    if len(records) < budget:
        raise ValueError(f"seed {measured['seed']} of {measured['variant']} has {len(records)} queries, not {budget}")
    passed = np.asarray(measured["realism"]["passed"][:budget], dtype=bool)
    true = np.asarray(measured["realism"]["true_degree"][:budget], dtype=np.float64)
    summary = summaries.seed_summary(records, {"passed": passed, "true_degree": true})["realism"]
    return {"queries": budget, "valid": int(passed.sum()),
            "best_valid_true": float(true[passed].max()) if passed.any() else None,
            "level_4": int((passed & (true >= LEVEL_4)).sum()),
            "valid_oracle_top10": summary["valid_oracle"]["top10"], "unique_valid": summary["valid_oracle"]["n"]}


def goals(by_seed: dict[int, dict], budget: int, restricted_top10: float) -> dict:
    """The goals over a variant's seeds: each figure, and whether it is met (None where it is undefined)."""
    seeds = {s: seed_goals(m, budget) for s, m in sorted(by_seed.items())}
    valid = sum(g["valid"] for g in seeds.values())
    share = metrics.proportion(valid, sum(g["queries"] for g in seeds.values()))
    best = [g["best_valid_true"] for g in seeds.values()]
    top10 = summaries.interval_of_all([g["valid_oracle_top10"] for g in seeds.values()])
    with_level_4 = sum(g["level_4"] > 0 for g in seeds.values())
    needed_level_4 = int(np.ceil(LEVEL_4_SEEDS_OF_5 * len(seeds) / 5))
    return {
        "seeds": seeds,
        "valid_share": {**share, "goal": VALID_SHARE, "met": share["fraction"] >= VALID_SHARE,
                        "met_by_interval": share["wilson95"][0] >= VALID_SHARE},
        "level_4": {"seeds_with": with_level_4, "of": len(seeds), "goal": needed_level_4,
                    "met": with_level_4 >= needed_level_4},
        "best_valid_true": {"per_seed": best, "goal": BEST_VALID_TRUE,
                            "met": all(b is not None and b >= BEST_VALID_TRUE for b in best)},
        "valid_top10": {**top10, "goal": restricted_top10,
                        "met": None if top10["mean"] is None else top10["mean"] > restricted_top10},
    }


def _seed_files(results: Path, variant: str) -> list[Path]:
    return sorted(Path(results, "seeds").glob(f"*/{variant}/seed*.json"))


def study(results: Path, variants: list[str], budget: int, seeds: list[int] | None, restricted_top10: float) -> dict:
    """The goals of each variant whose seed files (`claims`' layout, any budget folder with at least `budget`
    queries) are under `results/seeds`, over their first `budget` queries."""
    out = {"budget": budget, "restricted_top10": restricted_top10, "variants": {}}
    for variant in variants:
        by_seed = {}
        for path in _seed_files(results, variant):
            measured = read_seed(path)
            if measured["queries"] >= budget and (seeds is None or measured["seed"] in seeds):
                by_seed.setdefault(measured["seed"], measured)
        if by_seed:
            out["variants"][variant] = goals(by_seed, budget, restricted_top10)
    if not out["variants"]:
        raise FileNotFoundError(f"no seed files of {', '.join(variants)} with {budget} queries under {results}/seeds: "
                                "make them with `python -m happy_utils claims --variants ...` first")
    return out


def _mark(met: bool | None) -> str:
    return "n/a" if met is None else "met" if met else "missed"


def table(report: dict) -> str:
    """The goals as a markdown table, a row per variant."""
    head = ("| variant | seeds | valid share [Wilson 95%] | level-4 seeds | best valid true per seed | "
            f"valid Top10 (> {report['restricted_top10']:.2f}) |")
    lines = [head, "|---|---|---|---|---|---|"]
    for variant, g in report["variants"].items():
        share = g["valid_share"]
        low, high = share["wilson95"]
        best = ", ".join("none" if b is None else f"{b:.2f}" for b in g["best_valid_true"]["per_seed"])
        top10 = g["valid_top10"]
        top10_text = (f"n/a ({top10['n']} of {top10['seeds']} seeds have 10 valid)" if top10["mean"] is None else
                      f"{top10['mean']:.2f}")
        lines.append(f"| {variant} | {len(g['seeds'])} | {share['count']}/{share['n']}: {share['fraction']:.1%} "
                     f"[{low:.1%}, {high:.1%}] {_mark(share['met'])} | {g['level_4']['seeds_with']} of "
                     f"{g['level_4']['of']} {_mark(g['level_4']['met'])} | {best} "
                     f"{_mark(g['best_valid_true']['met'])} | {top10_text} {_mark(top10['met'])} |")
    return "\n".join(lines)


def write_study(report: dict, path: Path) -> None:
    write_text(path, json.dumps(report, indent=1))


def best_valid(results: Path, variant: str, budget: int) -> dict | None:
    """A variant's best realistic query over its measured seeds, by the true degree: its seed, index, true degree,
    oracle score and code; None when no query is valid."""
    best = None
    for path in _seed_files(results, variant):
        measured = read_seed(path)
        if measured["queries"] < budget:
            continue
        passed = measured["realism"]["passed"][:budget]
        for i, (ok, true) in enumerate(zip(passed, measured["realism"]["true_degree"][:budget])):
            if ok and (best is None or true > best["true"]):
                record = measured["records"][i]
                best = {"seed": measured["seed"], "index": i, "true": float(true), "score": float(record["score"]),
                        "code": record["code"]}
    return best


def _query_image(runs: list[Path], variant: str, found: dict):
    """The image of a measured query from a run folder of that variant and seed under any of `runs` (a claims run,
    a rerun by `reproduce`) whose record at that index has the same code; None if no folder has it."""
    from ..records import RunDir

    for root in runs:
        for folder in sorted(Path(root).rglob(f"seed{found['seed']}")):
            config = folder / "config.json"
            if not config.is_file() or json.loads(config.read_text()).get("variant") != variant:
                continue
            state = RunDir.existing(folder).load_state()
            records = state["records"] if state else []
            if len(records) > found["index"] and records[found["index"]]["code"] == found["code"]:
                return state["query_images"][found["index"]]
    return None


def best_valid_figure(results: Path, runs: list[Path], variants: list[str], budget: int, realism):
    """Each variant's best realistic query beside its re-render (the realism judge's analysis by synthesis), the
    image read from a run folder that made it; variants with no such folder on this machine, or no valid query,
    are left out and named in the returned list."""
    import torch

    from .. import plotting

    images, titles, left_out = [], [], []
    for variant in variants:
        found = best_valid(results, variant, budget)
        image = _query_image(runs, variant, found) if found else None
        if image is None:
            left_out.append(variant)
            continue
        images.append(image)
        titles.append(f"{variant}\nseed {found['seed']}, query {found['index']}\n"
                      f"true {found['true']:.2f}, oracle {found['score']:.2f}")
    if not images:
        return None, left_out
    batch = torch.stack(images)
    report = realism.assess(batch)
    figure = plotting.realism_rows(batch, report.rerender, report.error, report.passed.tolist(), titles,
                                   suptitle="each variant's best realistic query (by true degree) and its re-render")
    return figure, left_out
