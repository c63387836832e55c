"""Face data sets: one container for every source, and the synthetic world's cached builder.

Why: every later stage (VQ-VAE, surrogate, loop, evaluation) needs the same thing from the data: uint8 images
(N, 3, 64, 64) with smile levels 0-5, the restricted training split (label <= 2) and the unseen target split (3-5).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..files import atomic_path
from ..images import PixelDifference, as_float, pixel_difference, to_uint8
from ..provenance import made_with, spec_key
from . import world

TARGET_LEVELS = (3, 4, 5)


@dataclass
class FaceDataset:
    """Faces and their smile levels. Synthetic faces also carry the true degree s and the smile ingredients.

    `spec` says what made them (source, size, seed, renderer version, then each selection, e.g. "| level<=2"): the key
    of every model and cache made from them. None for faces of unknown origin, which nothing is cached for.
    """

    images: torch.Tensor  # uint8 (N, 3, 64, 64)
    labels: torch.Tensor  # int64 (N,), smile level 0-5
    degree: torch.Tensor | None = None  # float32 (N,), true degree s in [0, 5] (synthetic only)
    ingredients: torch.Tensor | None = None  # float32 (N, 8) (synthetic only)
    spec: str | None = None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1:] != (3, 64, 64):
            raise ValueError(f"FaceDataset images must be uint8 (N, 3, 64, 64), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def source(self) -> str | None:
        """The data source the faces come from ('synthetic' or 'celeba'), the first word of their spec."""
        return self.spec.split()[0] if self.spec else None

    def subset(self, index, rule: str | None = None) -> FaceDataset:
        """The faces at `index` (indices, a slice or a boolean mask). `rule` names the selection in the spec; without
        it the spec names the selected positions by their hash."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        picked = {f.name: getattr(self, f.name)[index] for f in fields(self)
                  if f.name != "spec" and getattr(self, f.name) is not None}
        if self.spec is not None and rule is None:
            rule = f"rows {spec_key(torch.arange(len(self))[index].tolist())}"
        return FaceDataset(**picked, spec=None if self.spec is None else f"{self.spec} | {rule}")

    def restricted(self, max_label: int = world.RESTRICTED_MAX_LABEL) -> FaceDataset:
        """The paper's training split: only faces with smile level <= max_label."""
        return self.subset(self.labels <= max_label, rule=f"level<={max_label}")

    def target(self, levels: tuple[int, ...] = TARGET_LEVELS) -> FaceDataset:
        """The unseen happy faces (levels 3-5 by default), the FID target."""
        return self.subset(torch.isin(self.labels, torch.tensor(levels)),
                           rule=f"levels {','.join(map(str, levels))}")

    def float_images(self) -> torch.Tensor:
        """Images as float32 in [0, 1], the models' input."""
        return as_float(self.images)


def world_spec(n: int, seed: int) -> str:
    """The spec of n synthetic faces of a seed: what makes them, whatever CPU renders them."""
    return f"synthetic n={n} seed={seed} renderer={world.RENDERER_VERSION}"


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
        spec=world_spec(n, seed),
    )


def build_world(n: int, seed: int, cache_dir: Path, name: str = "faces") -> FaceDataset:
    """Render n faces of a seed, or load them from `cache_dir`; a corrupt or stale cache is rebuilt with a warning."""
    path = Path(cache_dir) / f"{name}-n{n}-seed{seed}.npz"
    meta = {"n": n, "seed": seed, "renderer": world.RENDERER_VERSION}
    if path.exists():
        try:
            with np.load(path) as z:
                stored = json.loads(str(z["meta"]))
                if stored == meta:
                    return FaceDataset(images=torch.from_numpy(z["images"]), labels=torch.from_numpy(z["labels"]),
                                       degree=torch.from_numpy(z["degree"]),
                                       ingredients=torch.from_numpy(z["ingredients"]), spec=world_spec(n, seed))
            warnings.warn(f"stale face cache {path} (made for {stored}, needed {meta}); rebuilding it", stacklevel=2)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            warnings.warn(f"corrupt face cache {path} ({type(err).__name__}: {err}); rebuilding it", stacklevel=2)
    faces = render_faces(n, seed)
    with atomic_path(path) as tmp:  # never a half-written cache; parallel notebooks may build the same set
        np.savez(tmp, images=faces.images.numpy(), labels=faces.labels.numpy(), degree=faces.degree.numpy(),
                 ingredients=faces.ingredients.numpy(), meta=json.dumps(meta))
    return faces


# ------------------------------------------------------------------------------------------- the renderer's probe

PROBE_FILE = "renderer_probe.npz"  # in data/: the probe faces as the renderer of RENDERER_VERSION drew them
PROBE_SEED, PROBE_FACES = 12345, 16
#: How far another CPU may render the probe from the stored one: rounding moves a value across a level boundary now
#: and then (measured: 53 of 146 million values, each by one level, between torch's AVX-512 and generic kernels);
#: a change of the drawing moves a thousand values and more (teeth 1% darker: 1,013 of the probe's 196,608, by 3).
ROUNDING = {"fraction": 1e-3, "largest": 2}


def within_rounding(diff: PixelDifference) -> bool:
    """Whether two renders of the probe differ as little as rounding makes them (`ROUNDING`)."""
    return diff.fraction <= ROUNDING["fraction"] and diff.largest <= ROUNDING["largest"]


def probe_faces() -> torch.Tensor:
    """The renderer's probe: a few faces of a fixed seed, as stored (uint8)."""
    return render_faces(PROBE_FACES, PROBE_SEED, progress=False).images


def write_renderer_probe(path: Path) -> None:
    """Store the probe faces as this renderer draws them, with its version (after a bump of RENDERER_VERSION)."""
    with atomic_path(Path(path)) as tmp:
        np.savez_compressed(tmp, images=probe_faces().numpy(), meta=json.dumps(
            {"renderer": world.RENDERER_VERSION, "seed": PROBE_SEED, "made_with": made_with()}))


def check_renderer(path: Path) -> PixelDifference:
    """How this machine's renderer draws the probe against the stored one; a clear error when the stored probe
    belongs to another renderer version."""
    with np.load(path) as z:
        stored, meta = torch.from_numpy(z["images"]), json.loads(str(z["meta"]))
    if meta["renderer"] != world.RENDERER_VERSION:
        raise ValueError(f"{path} holds the probe of renderer version {meta['renderer']}, this is version "
                         f"{world.RENDERER_VERSION}: write it anew with `python -m happy_utils renderer --write`")
    return pixel_difference(probe_faces(), stored)
