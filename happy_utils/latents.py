"""The restricted training set seen from a generator's latent space: its latent points and the surrogate's labels.

Why: the surrogate models h(z) ~ f(d(z)) (paper section 2.2). By default each training point is labelled with the
black box's score of its *decoded* image ("decoded"): decoded images are scored differently from rendered ones, and
the optimiser's queries are decoded images too. "raw" keeps the paper's literal f(x) of the original face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import Preset
from .data.faces import FaceDataset
from .data.sources import load_faces
from .generators.base import Generator
from .generators.vqvae import load_or_train_vqvae
from .scorers.base import SmileScorer
from .scorers.loading import load_scorer

#: What the surrogate learns from: the score of each training point's decoded image, or of the original face.
SURROGATE_TARGETS = ("decoded", "raw")


def label_latents(generator: Generator, latents: torch.Tensor, scorer: SmileScorer) -> np.ndarray:
    """f(d(z)): the scorer's expected degree of each decoded latent point."""
    return scorer.score(generator.decode(latents)).degree.numpy()


@dataclass
class LatentSet:
    """Restricted faces, the generator, their latent points (N, *latent_shape) and the surrogate's labels (N,)."""

    faces: FaceDataset
    generator: Generator
    latents: torch.Tensor
    labels: np.ndarray
    target: str

    @property
    def rows(self) -> np.ndarray:
        """The latent points as flat rows (N, d), the surrogate's features."""
        return self.latents.reshape(len(self.latents), -1).numpy()


def latent_set(cfg: Preset, source: str = "synthetic", target: str = "decoded", scorer: SmileScorer | None = None,
               progress: bool = True) -> LatentSet:
    """Load (or train) the preset's VQ-VAE on the restricted faces, encode them and label their codes."""
    if target not in SURROGATE_TARGETS:
        raise ValueError(f"unknown target {target!r}; valid targets: {', '.join(SURROGATE_TARGETS)}")
    faces = load_faces("train", cfg, source).restricted()
    vq = load_or_train_vqvae(cfg, faces.images, progress=progress)
    scorer = scorer or load_scorer("oracle", source=source)
    codes = vq.encode(faces.images)
    labels = label_latents(vq, codes, scorer) if target == "decoded" else scorer.score(faces.images).degree.numpy()
    return LatentSet(faces=faces, generator=vq, latents=codes, labels=labels, target=target)
