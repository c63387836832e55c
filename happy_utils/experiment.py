"""The main job: every stage of the method that exists so far, in order, timed, with a summary and figures.

Why: the notebooks teach one stage each; a user who wants the whole experiment (many seeds, no notebook) runs
`python -m happy_utils run`, which calls the same functions and leaves everything in one run directory.
Stages so far: data (render or load the synthetic world), oracle (score it with the black box and the judge),
vqvae (train or load the VQ-VAE on the restricted set, and measure what survives reconstruction) and surrogate (fit
the trees on the latent codes, then make 20 single queries from different training faces).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from . import plotting, world
from .config import Preset, get_source
from .data import load_faces
from .metrics import kth_best
from .oracle import SHIPPED, load_scorer, oracle_metrics
from .latent import label_codes
from .retraining import query
from .surrogate import fit_surrogate, holdout_r2
from .vqvae import evaluate_vqvae, load_or_train

TOP_KS = (10, 50)
PROBE_QUERIES = 20


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


def run_experiment(cfg: Preset, out: Path, source: str | None = None) -> dict:
    """Run the stages for a preset and write `config.json`, `summary.json` and figures into `out`."""
    matplotlib.use("Agg")  # the command line draws into files only
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = get_source(source)
    (out / "config.json").write_text(json.dumps({"preset": cfg.as_dict(), "source": source}, indent=2))
    timings: dict[str, float] = {}
    figures: dict = {}

    with _stage("data", timings):
        train, valid = load_faces("train", cfg, source), load_faces("valid", cfg, source)
        restricted = train.restricted()
        figures["faces_by_degree"] = plotting.faces_by_degree(train)
        figures["restricted_degrees"] = plotting.degree_histogram(restricted, "Restricted training set (level <= 2)")
        figures["restricted_ingredients"] = plotting.ingredient_coverage(restricted)

    with _stage("oracle", timings):
        scorers = {which: load_scorer(which) for which in SHIPPED}
        quality, references, valid_degree = {}, {}, {}
        for which, scorer in scorers.items():
            on_valid = scorer.score(valid.images)
            valid_degree[which] = on_valid.degree.numpy()
            quality[which] = oracle_metrics(on_valid, valid.labels, valid.degree)
            on_restricted = scorer.score(restricted.images).degree.numpy()
            references[which] = {f"top{k}": kth_best(on_restricted, k) for k in TOP_KS}
        figures["calibration"] = plotting.calibration(valid.degree.numpy(), valid_degree)

    with _stage("vqvae", timings):
        vq = load_or_train(cfg, restricted.images)
        held_out = valid.restricted()
        vq_quality = evaluate_vqvae(vq, held_out.images, scorers)
        reconstructed = vq.reconstruct(restricted.images)
        recon_references = {}
        for which, scorer in scorers.items():
            scores = scorer.score(reconstructed).degree.numpy()
            recon_references[which] = {f"top{k}": kth_best(scores, k) for k in TOP_KS}
        figures["vqvae_loss"] = plotting.loss_curves(vq.meta["history"], title="VQ-VAE training")
        figures["vqvae_reconstructions"] = plotting.image_rows(
            {"original": held_out.images[:10], "reconstruction": vq.reconstruct(held_out.images[:10])}, n=10)
        figures["vqvae_codebook"] = plotting.codebook_usage(vq.encode(held_out.images))

    with _stage("surrogate", timings):
        codes = vq.encode(restricted.images)
        scores = label_codes(vq, codes, scorers["oracle"])
        r2, y_true, y_pred = holdout_r2(codes, scores, n_trees=cfg.surrogate_trees)
        start = time.perf_counter()
        surrogate = fit_surrogate(codes, scores, n_trees=cfg.surrogate_trees)
        fit_seconds = time.perf_counter() - start
        top = surrogate.top_cells(cfg.free_cells)
        bases = np.random.default_rng(0).choice(len(codes), size=min(PROBE_QUERIES, len(codes)), replace=False)
        queries = [query(vq, surrogate, codes, int(i), cfg.free_cells, scorers["oracle"],
                         time_limit=cfg.solver_time_limit_s) for i in bases]
        judged = scorers["judge"].score(torch.stack([q.image for q in queries])).degree.numpy()
        figures["surrogate_parity"] = plotting.parity(y_true, y_pred, r2)
        figures["surrogate_importance"] = plotting.code_map(
            vq.decode(codes[:1])[0], values=surrogate.importance(), outline=_mask(top),
            title=f"gain importance, top {cfg.free_cells} cells outlined").figure
        figures["probe_queries"] = plotting.image_rows(
            {"base": torch.stack([q.base_image for q in queries[:10]]),
             "query": torch.stack([q.image for q in queries[:10]])}, n=10)
        surrogate_summary = {
            "target": "oracle score of the decoded code", "trees": cfg.surrogate_trees, "heldout_r2": r2,
            "fit_seconds": round(fit_seconds, 2), "top_cells": [divmod(int(c), 8) for c in top],
            "top_cells_in_lower_half": float(np.mean(top >= 32)),
            "probe_queries": {
                "n": len(queries), "free_cells": cfg.free_cells,
                "score_rose": int(sum(q.score > q.base_score for q in queries)),
                "mean_base_score": float(np.mean([q.base_score for q in queries])),
                "mean_query_score": float(np.mean([q.score for q in queries])),
                "mean_query_judge": float(judged.mean()),
                "mean_surrogate_value": float(np.mean([q.mio.value for q in queries])),
                "median_solve_s": float(np.median([q.mio.seconds for q in queries])),
                "statuses": sorted({q.mio.status for q in queries}),
            },
        }

    summary = {
        "preset": cfg.name,
        "source": source,
        "faces": {"train": len(train), "restricted": len(restricted), "target": len(train.target()),
                  "valid": len(valid),
                  "per_level": train.labels.bincount(minlength=6).tolist()},
        "scorer_quality_on_valid": quality,
        "vqvae": {"width": vq.cfg.width, "epochs": cfg.vqvae_epochs, "train_seconds": vq.meta["seconds"],
                  "held_out_restricted": vq_quality},
        "surrogate": surrogate_summary,
        "restricted_reference": {"raw": references, "reconstructed": recon_references,
                                 "best_training_label": world.RESTRICTED_MAX_LABEL},
        "timings_s": timings,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
    print(f"summary and figures written to {out}")
    return summary
