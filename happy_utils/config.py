"""Presets (one switch for every size knob), data sources, paths, seeds and the one `setup()` every notebook calls.

Why: a smaller preset must change sizes only, never code paths (smoke runs the same functions as paper), and a notebook
run by nbmake from its own folder must find the same data, cache and runs folders as the command line.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch

PRESET_ENV = "HAPPY_PRESET"
SOURCE_ENV = "HAPPY_SOURCE"
DATA_ENV, CACHE_ENV, RUNS_ENV = "HAPPY_DATA_DIR", "HAPPY_CACHE_DIR", "HAPPY_RUNS_DIR"
DEFAULT_PRESET = "laptop"


class Source(StrEnum):
    """A data source, resolved once where a name enters (`get_source`); every later stage takes it as it is."""

    SYNTHETIC = "synthetic"  # the embedded world, with ground truth
    CELEBA = "celeba"  # the paper's faces, from $HAPPY_CELEBA_DIR


SOURCES = tuple(s.value for s in Source)


@dataclass(frozen=True)
class Preset:
    """Every size knob of the project."""

    name: str
    # Data: synthetic faces rendered per split (all degrees; about half have label <= 2).
    train_size: int
    valid_size: int
    # Synthetic oracle and judge training (`python -m happy_utils train-oracle`).
    oracle_images_per_epoch: int
    oracle_epochs: int
    # VQ-VAE: width of the first conv (the paper's is 64), epochs of the first training, batch size. On a CPU the
    # number of steps limits quality, so the laptop preset takes batches of 16 (25.2 dB against 23.9 dB at 128).
    vqvae_width: int
    vqvae_epochs: float
    vqvae_batch_size: int
    # VAE baseline (paper Tables 5-7): width of the first conv (the paper's is 32) and epochs (the paper's 30).
    vae_width: int
    vae_epochs: float
    # Surrogate: LightGBM trees (the paper's 800; fewer take larger steps); at most 5 leaves, >= 20 per leaf.
    surrogate_trees: int
    # What the surrogate learns (see `latents.SURROGATE_TARGETS`): "raw", the paper's f(x) of each training face, or
    # "decoded", f(d(e(x))) of its reconstruction; and which data it is fitted on at each retraining cycle: all of
    # it (None), or the authors' n best + n random points, re-drawn every cycle (the queries of a cycle join them).
    surrogate_target: str
    surrogate_fit_set: tuple[int, int] | None
    # Optimisation loop: queries per seed, retrain every r queries, rank-weight k, free cells t, seeds.
    budget: int
    retrain_every: int
    rank_k: float
    free_cells: int
    n_seeds: int
    solver_time_limit_s: float
    # Evaluation: faces of each unseen level (3, 4, 5) that FIDs compare with (InceptionV3 costs about 5.7 GFLOPs a
    # face; their features are computed once and cached).
    fid_per_level: int

    def replace(self, **changes) -> Preset:
        """A copy with some knobs changed, e.g. `cfg.replace(budget=50)` for a quick experiment."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", train_size=1_200, valid_size=300, oracle_images_per_epoch=512, oracle_epochs=1,
        vqvae_width=8, vqvae_epochs=4, vqvae_batch_size=16, vae_width=8, vae_epochs=2, surrogate_trees=50,
        surrogate_target="raw", surrogate_fit_set=(200, 300), budget=6,
        retrain_every=3, rank_k=1e-3, free_cells=4, n_seeds=1, solver_time_limit_s=20.0, fid_per_level=20,
    ),
    "laptop": Preset(
        name="laptop", train_size=24_000, valid_size=2_000, oracle_images_per_epoch=40_000, oracle_epochs=14,
        vqvae_width=32, vqvae_epochs=27, vqvae_batch_size=16, vae_width=16, vae_epochs=10, surrogate_trees=400,
        surrogate_target="raw", surrogate_fit_set=(2_000, 8_000), budget=100, retrain_every=5, rank_k=1e-3,
        free_cells=8, n_seeds=3, solver_time_limit_s=60.0, fid_per_level=1_000,
    ),
    "paper": Preset(
        name="paper", train_size=160_000, valid_size=10_000, oracle_images_per_epoch=40_000, oracle_epochs=14,
        vqvae_width=64, vqvae_epochs=70, vqvae_batch_size=128, vae_width=32, vae_epochs=30, surrogate_trees=800,
        surrogate_target="raw", surrogate_fit_set=(2_000, 8_000), budget=500, retrain_every=5, rank_k=1e-3,
        free_cells=8, n_seeds=20, solver_time_limit_s=120.0, fid_per_level=10_000,
    ),
}

#: Fixed seeds of the synthetic data splits. Oracle training uses seeds of its own (recorded in its checkpoint).
SPLIT_SEEDS = {"train": 101, "valid": 102}


def get_preset(name: str | None = None) -> Preset:
    """The preset called `name`, else the one named by $HAPPY_PRESET, else 'laptop'."""
    name = name or os.environ.get(PRESET_ENV) or DEFAULT_PRESET
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (from argument or ${PRESET_ENV}); valid presets: "
                         f"{', '.join(PRESETS)}")
    return PRESETS[name]


def get_source(name: str | None = None) -> Source:
    """The data source named by the argument, else by $HAPPY_SOURCE, else the synthetic world; a clear error for an
    unknown name."""
    name = name or os.environ.get(SOURCE_ENV) or Source.SYNTHETIC
    if name not in SOURCES:
        raise ValueError(f"unknown data source {name!r} (from argument or ${SOURCE_ENV}); valid sources: "
                         f"{', '.join(SOURCES)}")
    return Source(name)


def repo_root() -> Path:
    """The repository this package lives in (an editable install); else the clone around the working directory (a
    regular install, as on Colab, run from the clone's notebooks/); else the working directory."""
    here = Path(__file__).resolve().parents[1]
    if (here / "pyproject.toml").exists():
        return here
    cwd = Path.cwd()
    return next((p for p in (cwd, *cwd.parents) if (p / "pyproject.toml").exists() and (p / "happy_utils").is_dir()),
                cwd)


@dataclass(frozen=True)
class Paths:
    data: Path  # shipped artifacts (oracle weights) and downloads
    cache: Path  # rebuilt on demand: rendered data sets, trained models
    runs: Path  # experiment outputs


def get_paths() -> Paths:
    """Folders from $HAPPY_DATA_DIR, $HAPPY_CACHE_DIR, $HAPPY_RUNS_DIR, defaulting to data/, data/cache/, runs/."""
    root = repo_root()
    data = Path(os.environ.get(DATA_ENV, root / "data"))
    return Paths(
        data=data,
        cache=Path(os.environ.get(CACHE_ENV, data / "cache")),
        runs=Path(os.environ.get(RUNS_ENV, root / "runs")),
    )


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PLOT_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.interpolation": "nearest",
}


def setup(preset: Preset | str | None = None, seed: int = 0) -> Preset:
    """Seed everything, set the one plot style, and return the preset (argument, $HAPPY_PRESET, or 'laptop'; one
    already resolved is taken as it is): a notebook's first call."""
    seed_and_style(seed)
    return preset if isinstance(preset, Preset) else get_preset(preset)


def seed_and_style(seed: int = 0) -> None:
    """Seed Python, numpy and torch, and set the one plot style: how every notebook (through `setup`) and every
    command of the command line begins."""
    import matplotlib as mpl

    seed_everything(seed)
    mpl.rcParams.update(PLOT_STYLE)
