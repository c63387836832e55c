"""Face data sets: one container for every source, and the synthetic world's cached builder.

Why: every later stage (VQ-VAE, surrogate, loop, evaluation) needs the same thing from the data: uint8 images
(N, 3, 64, 64) with smile levels 0-5, the restricted training split (label <= 2) and the unseen target split (3-5).
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..files import atomic_path
from ..images import as_float, to_uint8
from . import world

TARGET_LEVELS = (3, 4, 5)


@dataclass
class FaceDataset:
    """Faces and their smile levels. Synthetic faces also carry the true degree s and the smile ingredients."""

    images: torch.Tensor  # uint8 (N, 3, 64, 64)
    labels: torch.Tensor  # int64 (N,), smile level 0-5
    degree: torch.Tensor | None = None  # float32 (N,), true degree s in [0, 5] (synthetic only)
    ingredients: torch.Tensor | None = None  # float32 (N, 8) (synthetic only)

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1:] != (3, 64, 64):
            raise ValueError(f"FaceDataset images must be uint8 (N, 3, 64, 64), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index) -> FaceDataset:
        """The faces at `index` (indices, a slice or a boolean mask)."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return FaceDataset(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[index]
                              for f in fields(self)})

    def restricted(self, max_label: int = world.RESTRICTED_MAX_LABEL) -> FaceDataset:
        """The paper's training split: only faces with smile level <= max_label."""
        return self.subset(self.labels <= max_label)

    def target(self, levels: tuple[int, ...] = TARGET_LEVELS) -> FaceDataset:
        """The unseen happy faces (levels 3-5 by default), the FID target."""
        return self.subset(torch.isin(self.labels, torch.tensor(levels)))

    def float_images(self) -> torch.Tensor:
        """Images as float32 in [0, 1], the models' input."""
        return as_float(self.images)


def render_faces(n: int, seed: int, batch: int = 2048, progress: bool = True) -> FaceDataset:
    """Render n synthetic faces of a seed, uncached, in chunks with a progress bar."""
    params = world.sample_faces(n, seed)
    images = torch.empty(n, 3, world.IMAGE_SIZE, world.IMAGE_SIZE, dtype=torch.uint8)
    for start in tqdm(range(0, n, batch), desc=f"rendering {n} faces", disable=not progress, leave=False):
        images[start:start + batch] = to_uint8(world.render(params[start:start + batch]))
    return FaceDataset(
        images=images,
        labels=torch.from_numpy(params.label),
        degree=torch.from_numpy(params.degree.astype(np.float32)),
        ingredients=torch.from_numpy(params.ingredients),
    )


@functools.lru_cache(maxsize=1)
def renderer_fingerprint() -> str:
    """A hash of a few rendered faces: it changes whenever the renderer's output does, which makes a cache stale."""
    probe = to_uint8(world.render(world.sample_faces(6, seed=12345)))
    return hashlib.sha256(probe.numpy().tobytes()).hexdigest()[:16]


def build_world(n: int, seed: int, cache_dir: Path, name: str = "faces") -> FaceDataset:
    """Render n faces of a seed, or load them from `cache_dir`; a corrupt or stale cache is rebuilt with a warning."""
    path = Path(cache_dir) / f"{name}-n{n}-seed{seed}.npz"
    meta = {"n": n, "seed": seed, "renderer": renderer_fingerprint()}
    if path.exists():
        try:
            with np.load(path) as z:
                stored = json.loads(str(z["meta"]))
                if stored == meta:
                    return FaceDataset(images=torch.from_numpy(z["images"]), labels=torch.from_numpy(z["labels"]),
                                       degree=torch.from_numpy(z["degree"]),
                                       ingredients=torch.from_numpy(z["ingredients"]))
            warnings.warn(f"stale face cache {path} (made for {stored}, needed {meta}); rebuilding it", stacklevel=2)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            warnings.warn(f"corrupt face cache {path} ({type(err).__name__}: {err}); rebuilding it", stacklevel=2)
    faces = render_faces(n, seed)
    with atomic_path(path) as tmp:  # never a half-written cache; parallel notebooks may build the same set
        np.savez(tmp, images=faces.images.numpy(), labels=faces.labels.numpy(), degree=faces.degree.numpy(),
                 ingredients=faces.ingredients.numpy(), meta=json.dumps(meta))
    return faces
