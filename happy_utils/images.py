"""The one image convention of the project: batches (N, 3, 64, 64), stored as uint8, computed on as float in [0, 1].

Why: the renderer, the crops, the generators and every scorer exchange images; each checks them the same way, so a
channels-last array or an image normalised to [-1, 1] fails at the door with a message that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IMAGE_SIZE = 64


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """Fail clearly unless `images` is a batch (N, 3, 64, 64): uint8, or float in [0, 1]."""
    if not torch.is_tensor(images):
        raise TypeError(f"{name} must be a torch tensor (N, 3, 64, 64), got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (3, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{name} must have shape (N, 3, 64, 64), got {tuple(images.shape)}; channels come first")
    if images.dtype == torch.uint8:
        return
    if not images.is_floating_point():
        raise ValueError(f"{name} must be float in [0, 1] or uint8, got {images.dtype}")
    if len(images) and (images.min() < -1e-3 or images.max() > 1 + 1e-3):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{images.min():.3f}, {images.max():.3f}]; "
                         "images normalised to [-1, 1] need (x + 1) / 2")


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images scaled to float32 in [0, 1]; float images unchanged."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Quantise float images in [0, 1] to uint8, as they are stored."""
    return (images.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8)


@dataclass(frozen=True)
class PixelDifference:
    """How two sets of uint8 images of the same shape differ: the share of values that differ and the largest gap."""

    differing: int
    values: int
    largest: int  # in levels of 0-255

    @property
    def fraction(self) -> float:
        return self.differing / max(self.values, 1)

    def __str__(self) -> str:
        return (f"{self.differing:,} of {self.values:,} pixel values differ ({self.fraction:.2e}), "
                f"by at most {self.largest}/255")


def pixel_difference(a: torch.Tensor, b: torch.Tensor) -> PixelDifference:
    """Compare two uint8 image sets value by value."""
    if a.shape != b.shape or a.dtype != torch.uint8 or b.dtype != torch.uint8:
        raise ValueError(f"compare uint8 image sets of one shape, got {a.dtype} {tuple(a.shape)} and {b.dtype} "
                         f"{tuple(b.shape)}")
    gap = (a.int() - b.int()).abs()
    return PixelDifference(int((gap > 0).sum()), gap.numel(), int(gap.max()) if gap.numel() else 0)
