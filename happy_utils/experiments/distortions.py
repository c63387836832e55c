"""Controlled distortions of faces, each at three strengths: what a quality measure must see, in increasing order.

Why: a realism error or an FID is only trustworthy if it grows with damage whose size is known. Besides the classic
ones (blur, pixel noise, JPEG, a colour shift), two are what latent-space optimisation really does to a face:
swapping k of the 64 8x8 patches with another face's (a latent-cell edit that no face explains) and shuffling k
patches within the face.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import gaussian_blur

from ..images import as_float, check_images, to_uint8

CELL = 8


def blur(images: torch.Tensor, sigma: float, rng: np.random.Generator, others: torch.Tensor) -> torch.Tensor:
    return gaussian_blur(as_float(images), kernel_size=2 * int(np.ceil(3 * sigma)) + 1, sigma=sigma)


def noise(images: torch.Tensor, std: float, rng: np.random.Generator, others: torch.Tensor) -> torch.Tensor:
    x = as_float(images)
    return (x + torch.from_numpy(rng.normal(0, std, x.shape).astype(np.float32))).clamp(0, 1)


def jpeg(images: torch.Tensor, loss: float, rng: np.random.Generator, others: torch.Tensor) -> torch.Tensor:
    """JPEG at quality 100 - loss."""
    out = []
    for image in to_uint8(as_float(images)):
        buf = io.BytesIO()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(buf, format="JPEG", quality=int(100 - loss))
        out.append(torch.from_numpy(np.array(Image.open(buf).convert("RGB"))).permute(2, 0, 1))
    return as_float(torch.stack(out))


def _cells(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, 64, 64) -> (N, 64, 3, 8, 8): the 8x8 patches, row by row."""
    n = len(x)
    return x.reshape(n, 3, 8, CELL, 8, CELL).permute(0, 2, 4, 1, 3, 5).reshape(n, 64, 3, CELL, CELL)


def _image(cells: torch.Tensor) -> torch.Tensor:
    n = len(cells)
    return cells.reshape(n, 8, 8, 3, CELL, CELL).permute(0, 3, 1, 4, 2, 5).reshape(n, 3, 64, 64)


def patch_swap(images: torch.Tensor, k: float, rng: np.random.Generator, others: torch.Tensor) -> torch.Tensor:
    """k of the 64 patches replaced by the same patches of another face."""
    cells, donor = _cells(as_float(images)).clone(), _cells(as_float(others))
    for i in range(len(cells)):
        pick = rng.choice(64, int(k), replace=False)
        cells[i, pick] = donor[rng.integers(len(donor)), pick]
    return _image(cells)


def patch_shuffle(images: torch.Tensor, k: float, rng: np.random.Generator, others: torch.Tensor) -> torch.Tensor:
    """k patches of a face moved to each other's places (a random cyclic permutation of them)."""
    cells = _cells(as_float(images)).clone()
    for i in range(len(cells)):
        pick = rng.choice(64, int(k), replace=False)
        cells[i, pick] = cells[i, np.roll(pick, 1)]
    return _image(cells)


def colour_shift(images: torch.Tensor, amount: float, rng: np.random.Generator, others: torch.Tensor) -> torch.Tensor:
    """Every pixel moved by the same random RGB direction of length `amount` (a colour cast)."""
    x = as_float(images)
    direction = rng.normal(size=(len(x), 3, 1, 1)).astype(np.float32)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return (x + amount * torch.from_numpy(direction)).clamp(0, 1)


#: Each distortion and its three strengths, mildest first.
DISTORTIONS: dict[str, tuple[Callable, tuple[float, float, float]]] = {
    "blur": (blur, (0.6, 1.0, 1.6)),
    "noise": (noise, (0.04, 0.08, 0.16)),
    "jpeg": (jpeg, (50, 75, 90)),  # quality 50, 25, 10
    "patch_swap": (patch_swap, (4, 8, 16)),
    "patch_shuffle": (patch_shuffle, (4, 8, 16)),
    "colour_shift": (colour_shift, (0.05, 0.1, 0.2)),
}


def distort(name: str, images: torch.Tensor, strength: float, seed: int, others: torch.Tensor | None = None
            ) -> torch.Tensor:
    """One distortion of images (uint8 or float in [0, 1]) at one strength, reproducibly; float images out.
    `others` are the donor faces of `patch_swap`."""
    if name not in DISTORTIONS:
        raise ValueError(f"unknown distortion {name!r}; valid: {', '.join(DISTORTIONS)}")
    check_images(images)
    donors = images if others is None else others
    return DISTORTIONS[name][0](images, strength, np.random.default_rng(seed), donors)
