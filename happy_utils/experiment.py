"""The main job: every stage of the method that exists so far, in order, timed, with a summary and figures.

Why: the notebooks teach one stage each; a user who wants the whole experiment (many seeds, no notebook) runs
`python -m happy_utils run`, which calls the same functions and leaves everything in one run directory.
Stages so far: data (render or load the synthetic world), oracle (score it with the black box and the judge) and
vqvae (train or load the VQ-VAE on the restricted set, and measure what survives reconstruction).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from . import plotting, world
from .config import Preset, get_source
from .data import load_faces
from .metrics import kth_best
from .oracle import SHIPPED, load_scorer, oracle_metrics
from .vqvae import evaluate_vqvae, load_or_train

TOP_KS = (10, 50)


@contextmanager
def _stage(name: str, timings: dict[str, float]):
    print(f"== stage {name}", flush=True)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 2)
    print(f"== stage {name} done in {timings[name]:.1f} s", flush=True)


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

    summary = {
        "preset": cfg.name,
        "source": source,
        "faces": {"train": len(train), "restricted": len(restricted), "target": len(train.target()),
                  "valid": len(valid),
                  "per_level": train.labels.bincount(minlength=6).tolist()},
        "scorer_quality_on_valid": quality,
        "vqvae": {"width": vq.cfg.width, "epochs": cfg.vqvae_epochs, "train_seconds": vq.meta["seconds"],
                  "held_out_restricted": vq_quality},
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
