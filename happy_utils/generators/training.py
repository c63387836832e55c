"""What every generator's training shares: the sampling plan (weighted retraining's sampler), resumable state,
checkpoints with their config, a cache of pretrained models, and the reconstruction measures.

Why: the VQ-VAE and the VAE baseline are trained, fine-tuned on rank-weighted data, interrupted, resumed and cached in
exactly the same way; only their losses differ. Keeping the shared part here means both baselines of the paper's
comparison draw their fine-tuning data from the same sampler.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler

from ..config import get_paths
from ..files import atomic_path, verify_checksum
from ..images import as_float

M = TypeVar("M", bound=nn.Module)


def sample_plan(n: int, epochs: float, batch_size: int, weights: torch.Tensor | None, seed: int) -> torch.Tensor:
    """The example indices of every training step, drawn once up front so that a resumed training sees the same ones.

    Without weights: a fresh permutation per epoch. With weights: a `WeightedRandomSampler` with replacement, so an
    example of weight w is drawn in proportion to w (weighted retraining).
    """
    steps = max(1, math.ceil(epochs * n / batch_size))
    total = steps * batch_size
    gen = torch.Generator().manual_seed(seed)
    if weights is None:
        order = torch.cat([torch.randperm(n, generator=gen) for _ in range(math.ceil(total / n))])
    else:
        weights = torch.as_tensor(weights, dtype=torch.double)
        if weights.shape != (n,) or not torch.all(weights >= 0) or weights.sum() <= 0:
            raise ValueError(f"weights must be {n} non-negative numbers with a positive sum, got shape "
                             f"{tuple(weights.shape)}")
        order = torch.tensor(list(WeightedRandomSampler(weights, total, replacement=True, generator=gen)))
    return order[:total].view(steps, batch_size)


@dataclass
class TrainResult:
    """What a training did: per-step losses and the number of dead codes re-seeded (VQ-VAE only)."""

    history: list[dict]
    reseeded: int
    seconds: float


def plan_fingerprint(plan: torch.Tensor, cfg, lr: float, flag: bool) -> str:
    """A short hash of a training's plan and settings: a state file made for another training is not resumed."""
    h = hashlib.sha256(plan.numpy().tobytes())
    h.update(repr((asdict(cfg), lr, flag)).encode())
    return h.hexdigest()[:20]


def resume_training(state_path: Path | None, fingerprint: str, model: nn.Module, opt, gen) -> dict | None:
    """Restore model, optimiser and generator from a training's state file if it was made for the same plan;
    the state (step, history, ...) or None for a fresh start."""
    if state_path is None or not Path(state_path).exists():
        return None
    state = torch.load(state_path, map_location=model.device, weights_only=False)
    if state.get("plan") != fingerprint:
        return None
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    gen.set_state(state["generator"])
    return state


def save_training_state(path: Path, model: nn.Module, opt, gen, fingerprint: str, step: int, history: list[dict],
                        seconds: float, **extra) -> None:
    """Everything a training needs to resume at `step` (plus the model's own extras), written atomically."""
    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                    "plan": fingerprint, "step": step, "history": history, "seconds": seconds, **extra}, tmp)


def save_checkpoint(model: nn.Module, path: Path, fmt: str, meta: dict | None = None) -> None:
    """Save a model's weights with the config that built them, atomically, so loading can rebuild and check it."""
    with atomic_path(path) as tmp:
        torch.save({"format": fmt, "config": asdict(model.cfg),
                    "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "meta": meta or {}}, tmp)


def read_checkpoint(path: Path, fmt: str, what: str) -> dict:
    """A checkpoint saved by `save_checkpoint` in format `fmt`; a missing or foreign file is a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} checkpoint {path} not found; train one with its notebook or "
                                "`python -m happy_utils run`")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise ValueError(f"{path} is not a {what} checkpoint of format {fmt}; delete it to retrain")
    return ckpt


SHIPPED_DIR = "generators"  # data/generators/KIND/NAME: pretrained models the repository ships, with SHA256SUMS


def shipped_model(path: Path) -> Path | None:
    """The repository's own copy of the cache file `path` (cache/KIND/NAME -> data/generators/KIND/NAME), checked
    against its checksum, if it ships one.

    Why: the claims' runs are made in parts, on different machines, and must all start from one pretrained model; a
    CPU training is not bit-identical from one machine to another (other kernels, other round-off), and costs the
    laptop preset an hour. The laptop preset's VQ-VAE and VAE ship (`data/README.md`)."""
    shipped = get_paths().data / SHIPPED_DIR / path.parent.name / path.name
    if not shipped.exists():
        return None
    verify_checksum(shipped, remedy=f"delete it to train the model anew into {path.parent}")
    return shipped


def cached_or_trained(path: Path, wanted: dict, load: Callable[[Path], M], train: Callable[[Path], None]) -> M:
    """The model cached at `path` if it was trained with the `wanted` settings (its meta), else the repository's
    shipped copy of it (`shipped_model`), else a trained one.

    `train(state_path)` trains from scratch (resuming from `state_path` if an earlier training was interrupted) and
    saves the model to `path`; the state file is removed once the model is saved.
    """
    shipped = None if path.exists() else shipped_model(path)
    if shipped is not None:
        with atomic_path(path) as tmp:
            shutil.copyfile(shipped, tmp)
    if path.exists():
        model = load(path)
        if all(model.meta.get(k) == v for k, v in wanted.items()):
            return model
        warnings.warn(f"{path} was trained with other settings ({model.meta}); training it again", stacklevel=3)
    state = path.with_name(path.stem + ".state.pt")
    train(state)
    state.unlink(missing_ok=True)
    return load(path)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [0, 1]."""
    mse = (as_float(a) - as_float(b)).pow(2).flatten(1).mean(1).clamp(min=1e-10)
    return 10 * torch.log10(1.0 / mse)


def score_change(recon: torch.Tensor, images: torch.Tensor, scorers: dict | None) -> dict[str, float]:
    """Per scorer, the mean |f(reconstruction) - f(original)| and the mean signed change.

    A face whose teeth vanish in the decoder cannot be optimised; the signed change tells whether reconstructions are
    scored higher or lower on the whole.
    """
    result = {}
    for name, scorer in (scorers or {}).items():
        change = scorer.score(recon).degree - scorer.score(images).degree
        result[f"{name}_abs_change"] = float(change.abs().mean())
        result[f"{name}_mean_change"] = float(change.mean())
    return result


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
