"""The paper's four claims, tested in the synthetic world, where every face has a ground truth no CelebA run has.

(a) LSO in the VQ-VAE's discrete space finds faces that smile more than any training face; (b) weighted retraining
beats no retraining; (c) t = 8 free cells is the sweet spot between score and image quality; (d) the discrete
method beats continuous LSO with a VAE on score and quality.

Why: one command runs every run the claims need (resumable, on Ray: the headline pair at a long budget, the other
variants at the comparison's), then measures them into small JSON files in a results folder that is committed, so
the README's tables, its figures and notebook 06 regenerate without re-running anything:
`python -m happy_utils claims --preset laptop --seeds 0-4 --workers 2` (see `Plan.command`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from ..config import Preset, get_paths, get_preset
from ..files import write_text
from ..generators.base import Generator
from ..loop import rank_weights
from ..records import RunDir
from ..scorers.fid import fid_table
from ..scorers.realism import RealismJudge
from .compare import compare, load_variant, run_specs
from .quality import extractors, fid_targets, sample
from .spec import RunSpec
from .stages import prepare
from .variants import VARIANTS

#: The headline pair, run at the long budget (their first `budget` queries also enter the comparison).
PAIR = ("vqvae-wr", "vqvae-nowr")
#: Every variant the claims need, in the order they are run after the pair.
TESTED = PAIR + ("vqvae-wr-decoded", "vae-wr", "vqvae-wr-t4", "vqvae-wr-t12", "vqvae-wr-t16", "random")
#: A realistic level-4 smile: the re-render's true degree at least this.
LEVEL_4 = 3.5
SUMMARY_FILES = ("comparison.json", "claims.json")


@dataclass(frozen=True)
class Plan:
    """Which runs the claims need and where they live: the pair at `long_budget` queries in `out/long-N`, the others
    at `budget` in `out/budget-N`, all with the same seeds and thread count."""

    preset: Preset
    source: str
    seeds: tuple[int, ...]
    budget: int
    long_budget: int
    threads: int
    out: Path

    @classmethod
    def resolve(cls, preset: str | Preset | None = None, source: str | None = None, seeds=None,
                budget: int | None = None, long_budget: int | None = None, threads: int = 1,
                out: str | Path | None = None) -> Plan:
        cfg = preset if isinstance(preset, Preset) else get_preset(preset)
        budget = budget or cfg.budget
        long_budget = long_budget or 3 * budget
        if long_budget < budget:
            raise ValueError(f"--long-budget ({long_budget}) must be at least --budget ({budget}): the pair's first "
                             f"{budget} queries enter the comparison")
        spec = RunSpec.resolve(cfg, source, PAIR[0], seeds, budget=budget, threads=threads)
        if len(spec.seeds) < 2:
            raise ValueError(f"--seeds must name at least 2 seeds for intervals and paired tests, got {spec.seeds}")
        return cls(cfg, spec.source, spec.seeds, budget, long_budget, threads,
                   Path(out) if out else get_paths().runs / f"claims-{cfg.name}")

    def placed(self) -> list[tuple[RunSpec, Path]]:
        """Every run, the pair first, each with its folder."""
        return [(RunSpec.resolve(self.preset, self.source, v, list(self.seeds), threads=self.threads,
                                 budget=self.long_budget if v in PAIR else self.budget), self.folder(v))
                for v in TESTED]

    def folder(self, variant: str) -> Path:
        return self.out / (f"long-{self.long_budget}" if variant in PAIR else f"budget-{self.budget}") / variant

    def command(self) -> str:
        seeds = ",".join(map(str, self.seeds))
        return (f"python -m happy_utils claims --preset {self.preset.name} --source {self.source} --seeds {seeds} "
                f"--budget {self.budget} --long-budget {self.long_budget} --threads {self.threads} --workers 2")

    def as_dict(self) -> dict:
        return {"preset": self.preset.name, "source": self.source, "seeds": list(self.seeds), "budget": self.budget,
                "long_budget": self.long_budget, "threads": self.threads, "pair": list(PAIR),
                "variants": list(TESTED), "command": self.command()}


def run_claims(plan: Plan, results: Path, workers: int = 1, address: str | None = None, progress: bool = True
               ) -> dict:
    """Run (or resume) every run of the plan, then measure the claims into `results` (see `measure`)."""
    run_specs(plan.placed(), progress, workers, address)
    return measure(plan, results)


def measure(plan: Plan, results: Path) -> dict:
    """From the finished runs: the comparison at the plan's budget (`comparison.json`, as `compare` writes it,
    plus FIDs per seed), the paired pair at the long budget, the t trade-off and the ceiling (`claims.json`)."""
    if plan.source != "synthetic":
        raise ValueError("the claims are measured against the synthetic world's ground truth (realism, true "
                         f"degrees); source {plan.source!r} has none: use `compare` there")
    results = Path(results)
    cfg = plan.preset
    folders = {v: plan.folder(v) for v in TESTED}
    comparison = compare(cfg, folders, plan.source, plan.out / "analysis", budget=plan.budget)
    prepared = prepare(cfg, plan.source, "vqvae", cfg.surrogate_target, progress=False)
    runs = {v: load_variant(folders[v], plan.budget) for v in TESTED}
    per_seed_fid = seed_fids({v: images for v, (_, _, images) in runs.items()}, prepared, cfg)
    for v, row in comparison["variants"].items():
        row["fid_per_seed"] = per_seed_fid[v]
    long = {v: load_variant(folders[v]) for v in PAIR}
    claims = {
        "plan": plan.as_dict(),
        "training_best": comparison["restricted_reference"]["raw"]["oracle"],
        "training_true_degree": {"top10": metrics.kth_best(prepared.restricted.degree.numpy(), 10),
                                 "best": float(prepared.restricted.degree.max())},
        "paired": paired_report(long[PAIR[0]][1], long[PAIR[1]][1], plan.budget, plan.long_budget),
        "why_weighted_retraining": weighting_report(long[PAIR[0]][1], cfg.rank_k, cfg.vqvae_batch_size)
        | {"generator_drift": drift(prepared.generator, plan.folder(PAIR[0]), plan.seeds, prepared)},
        "tradeoff": tradeoff(comparison),
        "ceiling": {v: ceiling(records, images, prepared.realism) for v, (_, records, images) in runs.items()},
        "ceiling_long": {v: ceiling(records, images, prepared.realism) for v, (_, records, images) in long.items()},
        "decoder_reach": {kind: decoder_reach(prepare(cfg, plan.source, kind, cfg.surrogate_target, progress=False
                                                      ).generator, prepared, n=min(200, cfg.fid_per_level))
                          for kind in ("vqvae", "vae")},
        "surrogate_reach": {v: surrogate_reach(records, comparison["restricted_reference"]["raw"]["oracle"]["best"])
                            for v, (_, records, _) in runs.items() if VARIANTS[v].proposer == "mio"},
    }
    results.mkdir(parents=True, exist_ok=True)
    write_text(results / "comparison.json", json.dumps(_rounded(comparison), indent=1))
    write_text(results / "claims.json", json.dumps(_rounded(claims), indent=1))
    return {"comparison": comparison, "claims": claims}


def read_results(results: Path) -> dict:
    """The committed summaries of a claims run: {"comparison": ..., "claims": ...}."""
    missing = [name for name in SUMMARY_FILES if not (Path(results) / name).exists()]
    if missing:
        raise FileNotFoundError(f"{results} lacks {', '.join(missing)}: run `python -m happy_utils claims` (it writes "
                                "them), or point at a folder that has them")
    return {name[:-5]: json.loads((Path(results) / name).read_text()) for name in SUMMARY_FILES}


def _rounded(value, digits: int = 5):
    """Floats rounded, so that the committed JSON stays small and its diffs readable."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, digits) for v in value]
    return value


# (b) weighted retraining against none: paired over seeds

def paired_report(a: dict[int, list[dict]], b: dict[int, list[dict]], budget: int, long_budget: int) -> dict:
    """A minus B of Top10 and Top50 at every query count (per-seed curves, mean difference and its 95% band) and the
    paired tests at the comparison's budget, at the long budget and halfway between them.

    Why paired: both runs of a seed start from the same restricted data, draw the same base faces in the same order
    and seed the surrogate alike, so the seed-to-seed spread largely cancels in the difference. Which test: the
    paired t-test on the per-seed differences, beside the exact sign-flip test (distribution-free): with 5 seeds a
    rank test cannot reach p < 0.05 at all (the sign-flip's smallest p is 0.0625), so the t-test's normality
    assumption carries any significance, and the sign-flip says how far the data alone go."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2 or any(len(a[s]) < long_budget or len(b[s]) < long_budget for s in seeds):
        raise ValueError(f"the pair needs >= 2 common seeds with {long_budget} queries each")
    a, b = {s: a[s][:long_budget] for s in seeds}, {s: b[s][:long_budget] for s in seeds}
    checkpoints = sorted({budget, (budget + long_budget) // 2, long_budget})
    out: dict = {"seeds": seeds, "queries": long_budget, "checkpoints": checkpoints, "test": "paired t-test over "
                 "seeds, and the exact sign-flip test", "curves": {}, "difference": {}, "tests": {}}
    for k in metrics.TOP_KS:
        ca, cb = np.stack(metrics.curves(a, k)), np.stack(metrics.curves(b, k))
        d = ca - cb
        half = [metrics.interval(col)["ci95"] for col in d.T]
        out["curves"][f"top{k}"] = {"a": ca.tolist(), "b": cb.tolist()}
        out["difference"][f"top{k}"] = {"mean": d.mean(axis=0).tolist(), "ci95": half}
        out["tests"][f"top{k}"] = {str(q): metrics.paired_difference(ca[:, q - 1], cb[:, q - 1]) for q in checkpoints}
    first_differs = []
    for s in seeds:
        same = [np.array_equal(x["code"], y["code"]) for x, y in zip(a[s], b[s])]
        first_differs.append(same.index(False) if False in same else None)
    out["first_query_that_differs"] = first_differs
    return out


def weighting_report(records: dict[int, list[dict]], k: float, batch_size: int) -> dict:
    """How strongly the rank weights lean on the best points, and how long each fine-tune is, at every retraining
    of a weighted run (from its records): the weight of the top 1% and 10%, the effective sample size
    (sum w)^2 / sum w^2 as a fraction of the data, and the fine-tune's steps."""
    rows = []
    for s, recs in records.items():
        for r in recs:
            if r.get("retrain"):
                n = r["retrain"]["data_size"]
                w = np.sort(rank_weights(np.arange(n, dtype=np.float64), k))[::-1]
                rows.append({"seed": s, "query": r["index"], "data_size": n, "epochs": r["retrain"]["epochs"],
                             "steps": int(np.ceil(r["retrain"]["epochs"] * n / batch_size)),
                             "top_1pct": float(w[: max(1, n // 100)].sum()), "top_10pct": float(w[: max(1, n // 10)].sum()),
                             "ess_fraction": float(1.0 / np.sum(w ** 2) / n), "recon": r["retrain"]["final_recon"]})
    first = [r for r in rows if r["epochs"] >= 1.0] or rows
    later = [r for r in rows if r not in first] or rows
    summary = {key: {"first": float(np.mean([r[key] for r in first])), "later": float(np.mean([r[key] for r in later]))}
               for key in ("data_size", "steps", "top_1pct", "top_10pct", "ess_fraction", "recon")}
    return {"k": k, "retrainings_per_seed": len(rows) // max(1, len(records)), "mean": summary}


def drift(pretrained: Generator, folder: Path, seeds, prepared, n: int = 1000) -> dict:
    """What weighted retraining did to the generator by the end of each seed's run, against the pretrained one:
    the fraction of latent cells whose code changes when the same restricted faces are encoded, and the oracle's
    score of the reconstructions of the restricted set's 50 best faces (a generator that leans towards smiles keeps
    more of their smile)."""
    oracle = prepared.scorers["oracle"]
    faces = sample(prepared.restricted, n, seed=7)
    raw = oracle.score(prepared.restricted.images).degree.numpy()
    best = prepared.restricted.images[torch.from_numpy(np.argsort(-raw)[:50].copy())]
    before_codes = pretrained.encode(faces)
    before_score = float(oracle.score(pretrained.reconstruct(best)).degree.mean())
    rows = []
    for s in seeds:
        state = RunDir.existing(Path(folder) / f"seed{s}").load_state()
        tuned = copy.deepcopy(pretrained)
        tuned.load_state_dict(state["generator"])
        changed = (tuned.encode(faces) != before_codes).float().mean()
        rows.append({"seed": s, "codes_changed": float(changed),
                     "best50_reconstruction_score": float(oracle.score(tuned.reconstruct(best)).degree.mean())})
    return {"faces": n, "best50_raw_score": float(raw[np.argsort(-raw)[:50]].mean()),
            "best50_reconstruction_score_pretrained": before_score, "per_seed": rows,
            "codes_changed": metrics.interval([r["codes_changed"] for r in rows]),
            "best50_reconstruction_score": metrics.interval([r["best50_reconstruction_score"] for r in rows])}


# (c) the t trade-off, and quality per seed

def seed_fids(images: dict[str, dict[int, torch.Tensor]], prepared, cfg: Preset) -> dict[str, dict]:
    """Inception and world FID of each seed's queries alone against degrees 3-5 (and each degree), as a mean and
    95% interval over seeds: the FID's spread, which one pooled FID per variant cannot show. A seed's few faces
    bias its FID upwards; compare these only with each other (same count per seed)."""
    features = [f for f in extractors(prepared.scorers, prepared.realism) if f.key in ("inception", "world")]
    targets = fid_targets(prepared.train, cfg.fid_per_level)
    sets = {f"{v}|{s}": x for v, by_seed in images.items() for s, x in by_seed.items()}
    tables = {f.key: fid_table(sets, targets, f)[0] for f in features}
    return {v: {key: {target: metrics.interval([table[f"{v}|{s}"][target] for s in by_seed]) for target in
                      next(iter(table.values()))} for key, table in tables.items()} for v, by_seed in images.items()}


def tradeoff(comparison: dict) -> list[dict]:
    """Per t (the ablation's variants): valid Top10 and Top10 with their intervals, the pooled Inception and world
    FIDs against degrees 3-5 and their per-seed intervals, the realism pass fraction."""
    rows = []
    for entry in comparison["ablation"]:
        row = comparison["variants"][entry["variant"]]
        realism = row.get("realism") or {}
        rows.append({"t": entry["t"], "variant": entry["variant"], "top10": row["oracle"]["top10"],
                     "valid_top10": realism.get("valid_oracle", {}).get("top10"),
                     "true_top10": realism.get("true_degree", {}).get("top10"),
                     "pass_fraction": realism.get("pass_fraction"),
                     "fid": {k: row["fid"][k]["3-5"] for k in ("inception", "world") if k in row["fid"]},
                     "fid_per_seed": {k: v["3-5"] for k, v in row.get("fid_per_seed", {}).items()}})
    return rows


# (a) and the ceiling: how close to a realistic level-4 smile

def ceiling(records: dict[int, list[dict]], images: dict[int, torch.Tensor], realism: RealismJudge) -> dict:
    """The best realistic query of a variant (it passes realism; ranked by its re-render's true degree), the best
    by the oracle among those, and how many realistic queries reach a level-4 smile (true degree >= 3.5)."""
    pooled = [(s, i, r) for s, recs in records.items() for i, r in enumerate(recs)]
    report = realism.assess(torch.cat([images[s][: len(records[s])] for s in records]))
    passed, degree = report.passed.numpy(), report.true_degree.numpy()

    def describe(j: int) -> dict:
        s, i, r = pooled[j]
        return {"seed": s, "query": i, "oracle": r["score"], "judge": r["judge"], "true_degree": float(degree[j]),
                "passed": bool(passed[j]), "error": float(report.error[j])}

    valid = np.flatnonzero(passed)
    out = {"queries": len(pooled), "passed": int(len(valid)), "best_true_degree_any": describe(int(np.argmax(degree))),
           "level4_realistic": int(np.sum(passed & (degree >= LEVEL_4))), "level4_any": int(np.sum(degree >= LEVEL_4))}
    if len(valid):
        out["best_realistic"] = describe(int(valid[np.argmax(degree[valid])]))
        out["best_realistic_by_oracle"] = describe(int(valid[np.argmax([pooled[j][2]["score"] for j in valid])]))
    return out


def decoder_reach(generator: Generator, prepared, n: int = 200) -> dict:
    """Can the generator represent a realistic level-4 smile at all? Unseen faces of levels 3, 4 and 5 (true degree
    known) are reconstructed: per level, the fraction of reconstructions that pass realism, their true degree, and
    the fraction of level-4+ originals (true degree >= 3.5) whose reconstruction is a realistic level-4 smile."""
    realism, oracle = prepared.realism, prepared.scorers["oracle"]
    out = {}
    for level in (3, 4, 5):
        faces = prepared.train.target((level,))
        pick = torch.from_numpy(np.sort(np.random.default_rng(level).permutation(len(faces))[:n]))
        images, truth = faces.images[pick], faces.degree[pick].numpy()
        recon = generator.reconstruct(images)
        report = realism.assess(recon)
        passed, degree = report.passed.numpy(), report.true_degree.numpy()
        high = truth >= LEVEL_4
        out[str(level)] = {"faces": int(len(pick)), "true_degree": float(truth.mean()),
                           "reconstruction_true_degree": float(degree.mean()), "pass_fraction": float(passed.mean()),
                           "oracle_original": float(oracle.score(images).degree.mean()),
                           "oracle_reconstruction": float(oracle.score(recon).degree.mean()),
                           "level4_kept": None if not high.any() else
                           float(np.mean(passed[high] & (degree[high] >= LEVEL_4)))}
    return out


def surrogate_reach(records: dict[int, list[dict]], training_best: float) -> dict:
    """How far the trees' predictions reach: the MIO's optimum adds the best reachable leaf of every tree, a
    combination no data point may have, so it can aim above the best point seen; the oracle says how much of that
    it confirms. Per query, the prediction at the MIO's solution against the best score in the data then (the
    restricted set's best, or a better earlier query) and against the oracle's score of the decoded face: how far it
    overshoots, and how well it ranks its own proposals (their correlation)."""
    predicted, realised, best_then = [], [], []
    for recs in records.values():
        best = training_best
        for r in recs:
            if r.get("surrogate") is not None:
                predicted.append(r["surrogate"])
                realised.append(r["score"])
                best_then.append(best)
            best = max(best, r["score"])
    p, o, m = map(np.asarray, (predicted, realised, best_then))
    return {"queries": int(len(p)), "prediction": metrics.interval(p), "oracle": metrics.interval(o),
            "above_best_so_far": float(np.mean(p > m + 1e-6)), "prediction_minus_best_so_far": float(np.mean(p - m)),
            "prediction_minus_oracle": float(np.mean(p - o)),
            "prediction_oracle_correlation": float(np.corrcoef(p, o)[0, 1]) if len(p) > 2 and p.std() > 0 and
            o.std() > 0 else None}
