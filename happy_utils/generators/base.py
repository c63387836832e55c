"""What the loop needs of a generative model, whatever its latent space: the `Generator` protocol.

Why: the paper's loop is the same for the VQ-VAE (discrete 8x8 codes) and the VAE baseline (64 continuous numbers):
encode the data, decode a proposed latent point, fine-tune on rank-weighted data. The loop talks to this protocol only.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from .training import TrainResult


@runtime_checkable
class Generator(Protocol):
    """A trained generative model over 64x64 faces with a latent space the proposers search."""

    title: str  # for tables and figures
    loss_keys: tuple[str, ...]  # the training losses its history records
    latent_shape: tuple[int, ...]  # one latent point: (8, 8) code indices, or (64,) numbers
    meta: dict  # how it was trained (set when it is loaded or trained)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Latent points (N, *latent_shape) of images (N, 3, 64, 64)."""

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, 64, 64) in [0, 1] of latent points."""

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """decode(encode(images))."""

    def finetune(self, images: torch.Tensor, epochs: float, batch_size: int, weights: torch.Tensor,
                 seed: int) -> TrainResult:
        """Weighted retraining: a short training on images drawn with replacement in proportion to `weights`."""

    def quality(self, images: torch.Tensor, scorers: dict | None = None) -> dict[str, float]:
        """Reconstruction quality on held-out images, and how far each scorer's smile score moves through it."""
