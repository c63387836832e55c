"""The stages before the loop: data, scorers, generator, surrogate. Each is timed and leaves figures behind.

Why: every variant of a comparison that shares a generator starts from the same faces, the same pretrained model
and the same labelled latents, so these stages run once per process (`prepare` is cached by its arguments) while
each run keeps its own copy of their timings and figures.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from .. import plotting
from ..config import Preset, Source, get_paths
from ..data.faces import FaceDataset
from ..data.sources import load_faces
from ..generators.base import Generator
from ..latents import label_latents
from ..scorers.base import SmileScorer, oracle_metrics
from ..scorers.loading import load_realism, load_scorers
from ..scorers.realism import RealismJudge
from ..surrogates.fit_set import best_and_random
from ..surrogates.trees import TreeSurrogate, fit_trees, holdout_r2
from . import summaries
from .baseline.dngo import dngo_holdout_r2
from .variants import GENERATORS


@contextmanager
def stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Announce a stage, time it into `timings[name]`."""
    print(f"== stage {name}", flush=True)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 2)
    print(f"== stage {name} done in {timings[name]:.1f} s", flush=True)


@dataclass
class Prepared:
    """What the stages before the loop produced, shared by the variants that use the same generator."""

    timings: dict[str, float]
    figures: dict
    train: FaceDataset
    valid: FaceDataset
    restricted: FaceDataset
    scorers: dict[str, SmileScorer]
    realism: RealismJudge | None  # the synthetic world's ground truth; None on CelebA
    scorer_quality: dict  # per scorer, on the validation faces
    references: dict  # Top-K of the restricted set, raw and reconstructed, per scorer
    generator: Generator
    generator_quality: dict  # on the held-out restricted faces
    latents: torch.Tensor  # of the restricted faces
    target: str  # what the labels are: f(x) ("raw") or f(d(e(x))) ("decoded")
    labels: np.ndarray  # the surrogate's targets
    surrogate: TreeSurrogate | None  # the trees (VQ-VAE); None for the VAE, whose DNGO is fitted in the loop
    surrogate_summary: dict


def prepare(cfg: Preset, source: Source, generator: str, target: str, progress: bool = True) -> Prepared:
    """Run (or reuse, within this process and these folders) the stages before the loop for a generator kind and a
    surrogate target."""
    return _prepare(cfg, source, generator, target, progress, (get_paths(), os.environ.get("HAPPY_CELEBA_DIR")))


@functools.lru_cache(maxsize=4)
def _prepare(cfg: Preset, source: Source, kind: str, target: str, progress: bool, where: tuple) -> Prepared:
    timings: dict[str, float] = {}
    figures: dict = {}

    with stage("data", timings):
        train, valid = load_faces("train", cfg, source), load_faces("valid", cfg, source)
        restricted = train.restricted()
        figures["faces_by_degree"] = plotting.faces_by_degree(train)
        figures["restricted_degrees"] = plotting.degree_histogram(restricted, "Restricted training set (level <= 2)")
        if restricted.ingredients is not None:  # synthetic faces know their smile's ingredients
            figures["restricted_ingredients"] = plotting.ingredient_coverage(restricted)
        truth = valid.degree if valid.degree is not None else valid.labels.float()  # CelebA: levels only

    with stage("oracle", timings):
        scorers = load_scorers(source)  # CelebA has no judge
        realism = load_realism(source)  # and no ground truth
        quality, references, valid_degree, raw_scores = {}, {"raw": {}, "reconstructed": {}}, {}, {}
        for which, scorer in scorers.items():
            on_valid = scorer.score(valid.images)
            valid_degree[which] = on_valid.degree.numpy()
            quality[which] = oracle_metrics(on_valid, valid.labels, truth)
            raw_scores[which] = scorer.score(restricted.images).degree.numpy()
            references["raw"][which] = summaries.topk_summary(raw_scores[which])
        figures["calibration"] = plotting.calibration(truth.numpy(), valid_degree)

    with stage(kind, timings):
        held_out = valid.restricted()
        model = GENERATORS[kind].load_or_train(cfg, restricted, progress=progress)
        model_quality = model.quality(held_out.images, scorers)
        latents = model.encode(restricted.images)
        if kind == "vqvae":
            figures["vqvae_codebook"] = plotting.codebook_usage(model.encode(held_out.images))
        reconstructed = model.decode(latents)
        for which, scorer in scorers.items():
            references["reconstructed"][which] = summaries.topk_summary(scorer.score(reconstructed).degree.numpy())
        figures[f"{kind}_loss"] = plotting.loss_curves(model.meta["history"], keys=model.loss_keys,
                                                       title=f"{model.title} training")
        figures[f"{kind}_reconstructions"] = plotting.image_rows(
            {"original": held_out.images[:10], "reconstruction": model.reconstruct(held_out.images[:10])}, n=10)

    with stage("surrogate", timings):
        labels = label_latents(model, latents, scorers["oracle"]) if target == "decoded" else raw_scores["oracle"]
        described = {"raw": "oracle score f(x) of the training face (the paper's)",
                     "decoded": "oracle score f(d(e(x))) of its reconstruction"}[target]
        rows = (np.arange(len(labels)) if cfg.surrogate_fit_set is None
                else best_and_random(labels, *cfg.surrogate_fit_set, seed=0))  # as the loop's first cycle fits it
        fit_on = {"target": target, "labels": described, "fitted_on": len(rows)}
        if kind == "vae":
            surrogate = None  # DNGO is fitted per cycle, inside the loop
            r2, y_true, y_pred = dngo_holdout_r2(latents.numpy()[rows], labels[rows])
            surrogate_summary = {**fit_on, "model": "DNGO", "heldout_r2": r2}
        else:
            r2, y_true, y_pred = holdout_r2(latents[rows], labels[rows], n_trees=cfg.surrogate_trees)
            surrogate = fit_trees(latents[rows], labels[rows], n_trees=cfg.surrogate_trees)
            surrogate_summary = {**fit_on, "trees": cfg.surrogate_trees, "heldout_r2": r2}
        figures["surrogate_parity"] = plotting.parity(y_true, y_pred, r2)

    return Prepared(timings=timings, figures=figures, train=train, valid=valid, restricted=restricted,
                    scorers=scorers, realism=realism, scorer_quality=quality, references=references, generator=model,
                    generator_quality=model_quality, latents=latents, target=target, labels=labels, surrogate=surrogate,
                    surrogate_summary=surrogate_summary)
