"""The restricted training set seen from a generator's latent space: its latent points and the surrogate's labels.

Why: the surrogate models h(z) ~ f(d(z)) (paper section 2.2). Every preset labels each training point with the
black box's score of the original face, "raw": the paper's literal f(x). "decoded" labels it with the score of its
decoded image instead: decoded images are scored differently from rendered ones, and the optimiser's queries are
decoded images too (the `vqvae-wr-decoded` variant).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .config import Preset, Source
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


class LatentRows:
    """The data's latent points as rows (N, d), where the rows of some images are encoded only when first read.

    Why: after each fine-tune the loop must see all data through the new encoder, but a surrogate fitted on a
    bounded fit set (the authors' 2,000 best and 8,000 random points) and the bases of the cycle's queries read only
    some rows: on CelebA about 10,000 of 100,000, on the laptop preset 10,000 of 12,000. Rows are encoded on first read
    by the generator as it is then (queries decode, they never change it); a VQ-VAE's code of an image does not depend
    on the batch it is encoded in (measured: the laptop VQ-VAE gives the same codes for 4,000 images encoded as a
    subset, one by one, and within all 6,000), so the rows equal those of encoding everything at once.
    """

    def __init__(self, rows: np.ndarray, generator: Generator | None = None, images: torch.Tensor | None = None):
        self._rows = rows
        self._generator, self._images = generator, images
        self._pending = np.zeros(len(rows), dtype=bool)
        self.seconds = 0.0  # spent encoding on read
        if images is not None:
            self._pending[:len(images)] = True  # the first len(images) rows: those images, not yet encoded

    @classmethod
    def encoded_on_read(cls, generator: Generator, images: torch.Tensor, tail: np.ndarray) -> LatentRows:
        """Rows of `images` encoded by `generator` when first read, then the known rows `tail`."""
        head = np.zeros((len(images), tail.shape[1]), dtype=tail.dtype)
        return cls(np.vstack([head, tail]), generator, images)

    @property
    def shape(self) -> tuple[int, int]:
        return self._rows.shape

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index) -> np.ndarray:
        wanted = np.unique(np.atleast_1d(np.arange(len(self._rows))[index]))
        todo = wanted[self._pending[wanted]]
        if len(todo):
            start = time.perf_counter()
            codes = self._generator.encode(self._images[torch.from_numpy(todo)])
            self._rows[todo] = codes.reshape(len(todo), -1).numpy()
            self._pending[todo] = False
            self.seconds += time.perf_counter() - start
        return self._rows[index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every row, encoded; a copy, so that writing to it never changes the rows."""
        return np.array(self[:], dtype=dtype, copy=True)

    @property
    def encoded(self) -> int:
        """How many rows have been encoded on read (the cost saved is the rest)."""
        return int((~self._pending[:len(self._images)]).sum()) if self._images is not None else 0

    def append(self, row: np.ndarray) -> None:
        self._rows = np.vstack([self._rows, row])
        self._pending = np.append(self._pending, False)


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


def latent_set(cfg: Preset, source: Source = Source.SYNTHETIC, target: str = "decoded",
               scorer: SmileScorer | None = None, progress: bool = True) -> LatentSet:
    """Load (or train) the preset's VQ-VAE on the restricted faces, encode them and label their codes."""
    if target not in SURROGATE_TARGETS:
        raise ValueError(f"unknown target {target!r}; valid targets: {', '.join(SURROGATE_TARGETS)}")
    faces = load_faces("train", cfg, source).restricted()
    vq = load_or_train_vqvae(cfg, faces, progress=progress)
    scorer = scorer or load_scorer("oracle", source=source)
    codes = vq.encode(faces.images)
    labels = label_latents(vq, codes, scorer) if target == "decoded" else scorer.score(faces.images).degree.numpy()
    return LatentSet(faces=faces, generator=vq, latents=codes, labels=labels, target=target)
