"""The restricted training set seen from the latent space: its codes and the scores the surrogate learns from.

Why: the surrogate models h(z) ~ f(d(z)) (paper section 2.2), so by default each training code is labelled with the
black box's score of its *decoded* image, not of the original face; decoded images are scored differently from
rendered ones, and the optimiser's queries are decoded images too. `target="raw"` keeps the paper's literal f(x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import Preset
from .data import FaceDataset, load_faces
from .oracle import SmileScorer, load_scorer
from .vqvae import VQVAE, load_or_train

TARGETS = ("decoded", "raw")


def label_codes(vq: VQVAE, codes: torch.Tensor, scorer: SmileScorer) -> np.ndarray:
    """f(d(z)): the scorer's expected degree of each decoded code grid."""
    return scorer.score(vq.decode(codes)).degree.numpy()


@dataclass
class LatentSet:
    """Restricted faces, the VQ-VAE, their codes (N, 8, 8) and the surrogate's training targets (N,)."""

    faces: FaceDataset
    vq: VQVAE
    codes: torch.Tensor
    scores: np.ndarray
    target: str

    @property
    def rows(self) -> np.ndarray:
        """The codes as flat rows (N, 64), the surrogate's features."""
        return self.codes.reshape(len(self.codes), -1).numpy()


def latent_set(cfg: Preset, source: str | None = None, target: str = "decoded", scorer: SmileScorer | None = None,
               progress: bool = True) -> LatentSet:
    """Load (or train) the preset's VQ-VAE on the restricted faces, encode them and label their codes."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
    faces = load_faces("train", cfg, source).restricted()
    vq = load_or_train(cfg, faces.images, progress=progress)
    scorer = scorer or load_scorer("oracle", source=source)
    codes = vq.encode(faces.images)
    scores = label_codes(vq, codes, scorer) if target == "decoded" else scorer.score(faces.images).degree.numpy()
    return LatentSet(faces=faces, vq=vq, codes=codes, scores=scores, target=target)
