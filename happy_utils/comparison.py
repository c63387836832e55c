"""The paper's comparison: every variant run with the same seeds, then Figure 3 (Top-K curves, FID) and Table 1.

Why: the paper's claims are comparative (VQ-VAE with weighted retraining over VQ-VAE without it over a VAE with
continuous LSO; t = 8 against 4 and 16), so the comparison is one command over the one experiment runner:
`python -m happy_utils compare --preset laptop --seeds 0-2 --out runs/compare-laptop`. Finished variants are read
back, unfinished ones run (and resume); every figure comes from the runs' records and saved query images, and
the judge's view of the same images stands beside the oracle's.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import fid, metrics, plotting, world
from .config import Preset, get_source
from .data import FaceDataset, load_faces
from .experiment import VARIANT_NAMES, VARIANTS, run_experiment
from .oracle import load_scorers
from .records import RunDir

#: t of the ablation (the paper's Table 1) and the variant that has it.
ABLATION = {4: "vqvae-wr-t4", 8: "vqvae-wr", 16: "vqvae-wr-t16"}
#: The paper's results (CelebA, 500 queries, 20 seeds; Figure 3, Table 1, section 3), mean and standard deviation.
PAPER = {
    "vqvae-wr": {"top10": (2.85, 0.07), "top50": (2.50, 0.05), "fid": 41.69},
    "vqvae-nowr": {"top50": (2.42, None)},
    "vae-wr": {"top50": (1.70, None), "fid": 50.51},
    "vqvae-wr-t4": {"top10": (2.72, 0.07), "top50": (2.42, 0.04), "fid": 42.69},
    "vqvae-wr-t16": {"top10": (2.88, 0.06), "top50": (2.58, 0.02), "fid": 43.70},
}
TARGETS = {"3-5": (3, 4, 5), "3": (3,), "4": (4,), "5": (5,)}
TRAINING = "restricted training set"


def _finished(path: Path, cfg: Preset, source: str, seeds: list[int], changes: dict) -> bool:
    if not (path / "summary.json").exists():
        return False
    s = json.loads((path / "summary.json").read_text())
    return (s["preset"], s["source"], s["seeds"], s["changes"]) == (cfg.name, source, seeds, changes)


def load_variant(path: Path) -> tuple[dict, dict[int, list[dict]], dict[int, torch.Tensor]]:
    """A finished variant: its summary, and per seed its records and queried images (read back, not recomputed)."""
    summary = json.loads((Path(path) / "summary.json").read_text())
    records, images = {}, {}
    for s in summary["seeds"]:
        run = RunDir.existing(Path(path) / f"seed{s}")
        records[s], images[s] = run.records(), run.load_state()["query_images"]
    return summary, records, images


def _sample(faces: FaceDataset, n: int, seed: int = 0) -> torch.Tensor:
    pick = np.sort(np.random.default_rng(seed).permutation(len(faces))[:n])
    return faces.images[torch.from_numpy(pick)]


def run_comparison(cfg: Preset, out: Path, seeds: list[int] | None = None, variants: list[str] | None = None,
                   source: str | None = None, changes: dict | None = None, progress: bool = True) -> dict:
    """Run (or resume, or read back) every variant into `out/VARIANT`, then compare them in `out`."""
    matplotlib.use("Agg")
    source, changes = get_source(source), dict(changes or {})
    seeds = list(range(cfg.n_seeds)) if seeds is None else seeds
    variants = list(VARIANTS) if variants is None else variants
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; valid variants: {', '.join(VARIANTS)}")
    for v in variants:
        if not _finished(Path(out) / v, cfg, source, seeds, changes):
            print(f"==== variant {v}", flush=True)
            run_experiment(cfg, Path(out) / v, source, seeds, v, changes, progress=progress)
    return compare(cfg, Path(out), variants, source)


def compare(cfg: Preset, out: Path, variants: list[str], source: str) -> dict:
    """Figure 3, Table 1, best faces, oracle against judge, and `comparison.json`, from finished runs in `out`."""
    runs = {v: load_variant(out / v) for v in variants}
    scorers = load_scorers(source)
    train = load_faces("train", cfg, source)
    n_generated = min(sum(len(i) for i in images.values()) for _, _, images in runs.values())
    targets = {name: _sample(train.target(levels), cfg.eval_size) for name, levels in TARGETS.items()}
    generated = {v: torch.cat(list(images.values())) for v, (_, _, images) in runs.items()}
    generated[TRAINING] = _sample(train.restricted(), n_generated, seed=1)  # the data's own distance, same size
    extractor = fid.features(scorers)
    fids = fid.fid_table(generated, targets, extractor)
    rows = {}
    for v, (summary, records, _) in runs.items():
        agg = summary["aggregate"]
        rows[v] = {"name": VARIANT_NAMES[v], "seeds": summary["seeds"], "queries": summary["per_seed"][
            str(summary["seeds"][0])]["queries"], **{f"{role}_{key}": agg[role][key] for role in ("oracle", "judge")
                                                     if role in agg for key in ("top10", "top50", "best")},
                   "fid": fids[v], "near_duplicates": sum(metrics.near_duplicates(i) for i in runs[v][2].values()),
                   "seconds_per_query": agg["seconds_per_query"], "paper": PAPER.get(v, {})}
    reference = runs[variants[0]][0]["restricted_reference"]
    result = {"preset": cfg.name, "source": source, "variants": rows, "fid_extractor": extractor.name,
              "fid_images": {"generated_per_variant": {v: len(g) for v, g in generated.items()},
                             "targets": {t: len(x) for t, x in targets.items()}},
              "fid_training_set": fids[TRAINING], "restricted_reference": reference,
              "ablation": {t: v for t, v in ABLATION.items() if v in runs},
              "topk_curves": {v: {f"top{k}": {"mean": metrics.mean_std(metrics.curves(r, k))[0].tolist(),
                                              "std": metrics.mean_std(metrics.curves(r, k))[1].tolist()}
                                  for k in metrics.TOP_KS} for v, (_, r, _) in runs.items()}}
    (out / "comparison.json").write_text(json.dumps(result, indent=2))
    figures = comparison_figures(runs, fids, extractor.name, reference)
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
    return result


def comparison_figures(runs: dict, fids: dict, extractor: str, reference: dict) -> dict[str, plt.Figure]:
    """Figure 3a (Top-K curves with bands), 3b (FID bars), the best faces per variant, oracle against judge."""
    refs = {"training set, raw (oracle)": {k: reference["raw"]["oracle"][f"top{k}"] for k in metrics.TOP_KS},
            "best training label (2)": {k: float(world.RESTRICTED_MAX_LABEL) for k in metrics.TOP_KS}}
    curves = {VARIANT_NAMES[v]: {k: metrics.curves(r, k) for k in metrics.TOP_KS} for v, (_, r, _) in runs.items()}
    names = {**{v: VARIANT_NAMES[v] for v in runs}, TRAINING: TRAINING}
    best, titles = [], []
    for v, (_, records, images) in runs.items():
        pooled = [r for s in records for r in records[s]]
        pooled_images = torch.cat([images[s] for s in records])
        picked = metrics.best_unique(pooled, 6)
        best.append(pooled_images[picked])
        titles += [f"{v}: o{pooled[i]['score']:.2f}" + (f" j{pooled[i]['judge']:.2f}" if pooled[i]["judge"] is not None
                                                         else "") for i in picked]
    figures = {"figure3a_topk": plotting.topk_curves(curves, refs),
               "figure3b_fid": plotting.fid_bars({names[k]: f for k, f in fids.items()}, extractor),
               "best_faces": plotting.show_images(torch.cat(best), titles=titles, ncols=6, scale=1.6,
                                                  suptitle="The best queries of each variant (all seeds)")}
    judged = {VARIANT_NAMES[v]: (np.array([q["score"] for s in r for q in r[s]]),
                                 np.array([q["judge"] for s in r for q in r[s]]))
              for v, (_, r, _) in runs.items() if all(q["judge"] is not None for s in r for q in r[s])}
    if judged:
        figures["oracle_vs_judge"] = plotting.oracle_vs_judge(judged)
    return figures


def _pm(value: dict | None) -> str:
    return "" if value is None else f"{value['mean']:.2f} ± {value['std']:.2f}"


def print_comparison(result: dict) -> None:
    """The comparison table (with the paper's numbers beside ours) and Table 1, as printed by `compare`."""
    print(f"\nFID features: {result['fid_extractor']}")
    head = f"{'variant':<15}{'Top10':>14}{'Top50':>14}{'judge Top10':>14}{'judge Top50':>14}{'FID 3-5':>9}" \
           f"{'repeats':>8}{'  paper Top10 / Top50 / FID':>28}"
    print(head)
    for v, row in result["variants"].items():
        paper = row["paper"]
        cells = [f"{paper[k][0]:.2f}" if k in paper else "-" for k in ("top10", "top50")]
        cells.append(f"{paper['fid']:.2f}" if "fid" in paper else "-")
        print(f"{v:<15}{_pm(row['oracle_top10']):>14}{_pm(row['oracle_top50']):>14}"
              f"{_pm(row.get('judge_top10')):>14}{_pm(row.get('judge_top50')):>14}{row['fid']['3-5']:>9.2f}"
              f"{row['near_duplicates']:>8}{' / '.join(cells):>28}")
    print("repeats: queries whose decoded face is within 2% RMS of an earlier one of the same seed")
    print(f"{TRAINING:<15}{'':>56}{result['fid_training_set']['3-5']:>9.2f}")
    if result["ablation"]:
        print("\nTable 1 (ablation over t)")
        print(f"{'t':>3}{'FID 3-5':>9}{'Top10':>14}{'Top50':>14}{'  paper FID / Top10 / Top50':>30}")
        for t, v in result["ablation"].items():
            row, paper = result["variants"][v], PAPER[v]
            print(f"{t:>3}{row['fid']['3-5']:>9.2f}{_pm(row['oracle_top10']):>14}{_pm(row['oracle_top50']):>14}"
                  f"{paper['fid']:>12.2f} / {paper['top10'][0]:.2f} / {paper['top50'][0]:.2f}")
