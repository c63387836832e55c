"""The main job: every stage of the method in order, timed, with a summary and figures in one run directory.

Why: the notebooks teach one stage each; a user who wants the whole experiment (many seeds, no notebook) runs
`python -m happy_utils run`, which calls the same functions and leaves everything in one run directory:
data (render or load the faces), oracle (its quality, the restricted set's reference scores), vqvae (train or load,
reconstruction quality), surrogate (held-out R^2, importance), loop (the optimisation, per seed, resumable) and the
summary (Top-K per seed and over seeds, by the oracle and the judge, time per stage and per query).
"""

from __future__ import annotations

import functools
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import metrics, plotting, world
from .config import Preset, get_paths, get_source
from .data import load_faces
from .latent import LatentSet, label_codes
from .oracle import load_scorers, oracle_metrics
from .records import RunDir
from .retraining import LoopConfig, run_loop
from .surrogate import fit_surrogate, holdout_r2
from .continuous import dngo_holdout_r2
from .vae import evaluate_vae, load_or_train_vae
from .vqvae import evaluate_vqvae, load_or_train

#: Settings of the one loop that make the compared variants (the paper's Figure 3, its Table 1 ablation, a floor).
VARIANTS = {
    "vqvae-wr": {"weighted_retraining": True},
    "vqvae-nowr": {"weighted_retraining": False},
    "vae-wr": {"weighted_retraining": True, "method": "dngo"},
    "vqvae-wr-t4": {"weighted_retraining": True, "free_cells": 4},
    "vqvae-wr-t16": {"weighted_retraining": True, "free_cells": 16},
    "random": {"weighted_retraining": False, "method": "random"},
}
VARIANT_NAMES = {"vqvae-wr": "VQ-VAE + weighted retraining", "vqvae-nowr": "VQ-VAE, no retraining",
                 "vae-wr": "VAE + weighted retraining (continuous LSO)", "vqvae-wr-t4": "VQ-VAE + WR, t = 4",
                 "vqvae-wr-t16": "VQ-VAE + WR, t = 16", "random": "random search (t random cells)"}


def parse_seeds(text: str) -> list[int]:
    """'0-2' -> [0, 1, 2]; '0,3,5' -> [0, 3, 5]; '4' -> [4]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise ValueError(f"--seeds must look like 0-2 or 0,3,5, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds must name distinct non-negative seeds, got {text!r}")
    return seeds


@contextmanager
def _stage(name: str, timings: dict[str, float]):
    print(f"== stage {name}", flush=True)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 2)
    print(f"== stage {name} done in {timings[name]:.1f} s", flush=True)


def _mask(cells: np.ndarray) -> np.ndarray:
    mask = np.zeros(64, dtype=bool)
    mask[cells] = True
    return mask.reshape(8, 8)


def _topk(scores: np.ndarray) -> dict[str, float]:
    return {**{f"top{k}": metrics.kth_best(scores, k) for k in metrics.TOP_KS}, "best": float(np.max(scores))}


@functools.lru_cache(maxsize=2)
def _prepare(cfg: Preset, source: str, generator: str, progress: bool, where: tuple) -> dict:
    """The stages before the loop (data, oracle, generator, surrogate): the same for every variant of a comparison
    that shares the generator, so they run once per process (per set of folders, `where`); their timings and
    figures are kept for each run."""
    timings: dict[str, float] = {}
    figures: dict = {}

    with _stage("data", timings):
        train, valid = load_faces("train", cfg, source), load_faces("valid", cfg, source)
        restricted = train.restricted()
        figures["faces_by_degree"] = plotting.faces_by_degree(train)
        figures["restricted_degrees"] = plotting.degree_histogram(restricted, "Restricted training set (level <= 2)")
        if restricted.ingredients is not None:  # synthetic faces know their smile's ingredients
            figures["restricted_ingredients"] = plotting.ingredient_coverage(restricted)
        truth = valid.degree if valid.degree is not None else valid.labels.float()  # CelebA: levels only

    with _stage("oracle", timings):
        scorers = load_scorers(source)  # CelebA has no judge
        quality, references, valid_degree = {}, {"raw": {}, "reconstructed": {}}, {}
        for which, scorer in scorers.items():
            on_valid = scorer.score(valid.images)
            valid_degree[which] = on_valid.degree.numpy()
            quality[which] = oracle_metrics(on_valid, valid.labels, truth)
            references["raw"][which] = _topk(scorer.score(restricted.images).degree.numpy())
        figures["calibration"] = plotting.calibration(truth.numpy(), valid_degree)

    with _stage(generator, timings):
        held_out = valid.restricted()
        if generator == "vae":
            vq = load_or_train_vae(cfg, restricted.images, progress=progress)
            vq_quality = evaluate_vae(vq, held_out.images, scorers)
        else:
            vq = load_or_train(cfg, restricted.images, progress=progress)
            vq_quality = evaluate_vqvae(vq, held_out.images, scorers)
            figures["vqvae_codebook"] = plotting.codebook_usage(vq.encode(held_out.images))
        codes = vq.encode(restricted.images)
        reconstructed = vq.decode(codes)
        for which, scorer in scorers.items():
            references["reconstructed"][which] = _topk(scorer.score(reconstructed).degree.numpy())
        figures[f"{generator}_loss"] = plotting.loss_curves(
            vq.meta["history"], keys=("recon", "kl") if generator == "vae" else ("recon", "vq"),
            title=f"{'VAE' if generator == 'vae' else 'VQ-VAE'} training")
        figures[f"{generator}_reconstructions"] = plotting.image_rows(
            {"original": held_out.images[:10], "reconstruction": vq.reconstruct(held_out.images[:10])}, n=10)

    with _stage("surrogate", timings):
        scores = label_codes(vq, codes, scorers["oracle"])
        if generator == "vae":
            surrogate = None  # DNGO is fitted per cycle, inside the loop
            r2, y_true, y_pred = dngo_holdout_r2(codes.numpy(), scores)
            surrogate_summary = {"target": "oracle score of the decoded latent", "model": "DNGO", "heldout_r2": r2}
        else:
            r2, y_true, y_pred = holdout_r2(codes, scores, n_trees=cfg.surrogate_trees)
            surrogate = fit_surrogate(codes, scores, n_trees=cfg.surrogate_trees)
            surrogate_summary = {"target": "oracle score of the decoded code", "trees": cfg.surrogate_trees,
                                 "heldout_r2": r2}
        figures["surrogate_parity"] = plotting.parity(y_true, y_pred, r2)

    return {"timings": timings, "figures": figures, "train": train, "valid": valid, "restricted": restricted,
            "scorers": scorers, "quality": quality, "references": references, "vq": vq, "vq_quality": vq_quality,
            "codes": codes, "scores": scores, "surrogate": surrogate, "surrogate_summary": surrogate_summary}


def run_experiment(cfg: Preset, out: Path, source: str | None = None, seeds: list[int] | None = None,
                   variant: str = "vqvae-wr", changes: dict | None = None, progress: bool = True) -> dict:
    """Run every stage for a preset and write `summary.json` and figures into `out` (resumable, per seed)."""
    matplotlib.use("Agg")  # the command line draws into files only
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
    source = get_source(source)
    seeds = list(range(cfg.n_seeds)) if seeds is None else seeds
    changes = dict(changes or {})
    loop_configs = {s: LoopConfig.from_preset(cfg, s, **VARIANTS[variant], **changes) for s in seeds}
    run = RunDir(out, {"preset": cfg.as_dict(), "source": source, "variant": variant, "changes": changes})
    out = run.path
    generator = "vae" if VARIANTS[variant].get("method") == "dngo" else "vqvae"
    free_cells = loop_configs[seeds[0]].free_cells
    where = (get_paths(), os.environ.get("HAPPY_CELEBA_DIR"))
    prepared = _prepare(cfg, source, generator, progress, where)
    timings, figures = dict(prepared["timings"]), dict(prepared["figures"])
    train, valid, restricted, scorers = (prepared[k] for k in ("train", "valid", "restricted", "scorers"))
    quality, references, vq, vq_quality = (prepared[k] for k in ("quality", "references", "vq", "vq_quality"))
    codes, scores, surrogate_summary = prepared["codes"], prepared["scores"], dict(prepared["surrogate_summary"])
    surrogate = prepared["surrogate"]
    if surrogate is not None:  # the trees: which cells the loop's MIO will free
        top = surrogate.top_cells(free_cells)
        figures["surrogate_importance"] = plotting.code_map(
            vq.decode(codes[:1])[0], values=surrogate.importance(), outline=_mask(top),
            title=f"gain importance, top {free_cells} cells outlined").figure
        surrogate_summary.update(top_cells=[divmod(int(c), 8) for c in top],
                                 top_cells_in_lower_half=float(np.mean(top >= 32)))

    with _stage("loop", timings):
        latent = LatentSet(faces=restricted, vq=vq, codes=codes, scores=scores, target="decoded")
        records, images = {}, {}
        extra = {"preset": cfg.name, "source": source, "variant": variant, generator: vq.meta["data"]}
        for s in seeds:
            start = time.perf_counter()
            result = run_loop(out / f"seed{s}", latent, loop_configs[s], scorers["oracle"], scorers.get("judge"),
                              extra_config=extra, progress=progress)
            records[s], images[s] = result.records, result.images
            timings[f"loop_seed{s}"] = round(time.perf_counter() - start, 2)

    per_seed = {s: {**metrics.seed_summary(recs), "training": references} for s, recs in records.items()}
    curves = {k: metrics.curves(records, k) for k in metrics.TOP_KS}
    refs = {"training set, raw (oracle)": {k: references["raw"]["oracle"][f"top{k}"] for k in metrics.TOP_KS},
            "training set, reconstructed (oracle)": {k: references["reconstructed"]["oracle"][f"top{k}"]
                                                     for k in metrics.TOP_KS},
            "best training label (2)": {k: float(world.RESTRICTED_MAX_LABEL) for k in metrics.TOP_KS}}
    figures["topk_curves"] = plotting.topk_curves({VARIANT_NAMES[variant]: curves}, refs)
    figures["best_queries"] = _best_queries_figure(records, images)
    summary = {
        "preset": cfg.name, "source": source, "variant": variant, "seeds": seeds, "changes": changes,
        "faces": {"train": len(train), "restricted": len(restricted), "target": len(train.target()),
                  "valid": len(valid), "per_level": train.labels.bincount(minlength=6).tolist()},
        "scorer_quality_on_valid": quality,
        generator: {"width": vq.cfg.width, "epochs": vq.meta["epochs"], "train_seconds": vq.meta["seconds"],
                    "held_out_restricted": vq_quality},
        "surrogate": surrogate_summary,
        "restricted_reference": {**references, "best_training_label": world.RESTRICTED_MAX_LABEL},
        "per_seed": per_seed,
        "aggregate": metrics.aggregate(per_seed),
        "topk_curves": {f"top{k}": {"mean": metrics.mean_std(c)[0].tolist(), "std": metrics.mean_std(c)[1].tolist()}
                        for k, c in curves.items()},
        "timings_s": timings,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
    _print_table(summary)
    print(f"summary and figures written to {out}")
    return summary


def _best_queries_figure(records: dict, images: dict, n: int = 8) -> plt.Figure:
    """The n best unique queries of each seed, with the oracle's (o) and the judge's (j) scores."""
    rows, titles = [], []
    for s, recs in records.items():
        picked = metrics.best_unique(recs, n)
        rows.append(images[s][picked])
        titles += [f"seed {s}: o{recs[i]['score']:.2f}" + (f" j{recs[i]['judge']:.2f}" if recs[i]["judge"] is not None
                                                          else "") for i in picked]
    return plotting.show_images(torch.cat(rows), titles=titles, ncols=n, scale=1.5, suptitle="Best queries per seed")


def _print_table(summary: dict) -> None:
    ref, agg = summary["restricted_reference"], summary["aggregate"]
    roles = [r for r in ("oracle", "judge") if r in agg]
    keys = [(r, k) for r in roles for k in ("top10", "top50", "best")]
    print("\n" + f"{'':<13}" + "".join(f"{(r + ' ' + k)[:13]:>14}" for r, k in keys))
    rows = [(f"seed {s}", v) for s, v in summary["per_seed"].items()]
    rows += [("mean", {r: {k: v["mean"] for k, v in agg[r].items()} for r in roles})]
    rows += [(f"train {name[:5]}", ref[name]) for name in ("raw", "reconstructed")]
    for label, v in rows:
        print(f"{label:<13}" + "".join(f"{v[r][k]:14.3f}" for r, k in keys))
    t = agg["seconds_per_query"]
    print("seconds per query: " + ", ".join(f"{k[:-2]} {v:.2f}" for k, v in t.items()))
