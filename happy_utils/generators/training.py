"""What every generator's training shares: the sampling plan (weighted retraining's sampler), resumable state,
checkpoints with their config, a cache of pretrained models keyed by what made them (`provenance`) and checked
against this machine's faces by measurement, and the reconstruction measures.

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

from ..config import Preset, get_paths
from ..data.faces import FaceDataset
from ..files import atomic_path, verify_checksum
from ..images import as_float
from ..provenance import compare_pixels, made_with, record_pixels, spec_key

M = TypeVar("M", bound=nn.Module)


def training_steps(n: int, epochs: float, batch_size: int) -> int:
    """The steps of a training of `epochs` over n examples in batches of `batch_size` (at least one)."""
    return max(1, math.ceil(epochs * n / batch_size))


def sample_plan(n: int, epochs: float, batch_size: int, weights: torch.Tensor | None, seed: int) -> torch.Tensor:
    """The example indices of every training step, drawn once up front so that a resumed training sees the same ones.

    Without weights: a fresh permutation per epoch. With weights: a `WeightedRandomSampler` with replacement, so an
    example of weight w is drawn in proportion to w (weighted retraining).
    """
    total = training_steps(n, epochs, batch_size) * batch_size
    gen = torch.Generator().manual_seed(seed)
    if weights is None:
        order = torch.cat([torch.randperm(n, generator=gen) for _ in range(math.ceil(total / n))])
    else:
        weights = torch.as_tensor(weights, dtype=torch.double)
        if weights.shape != (n,) or not torch.all(weights >= 0) or weights.sum() <= 0:
            raise ValueError(f"weights must be {n} non-negative numbers with a positive sum, got shape "
                             f"{tuple(weights.shape)}")
        order = torch.tensor(list(WeightedRandomSampler(weights, total, replacement=True, generator=gen)))
    return order[:total].view(-1, batch_size)


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
FIT_FACES = 256
#: How close a model's fit to this machine's faces must stay to the fit recorded when it was made, when their pixels
#: differ: every measure (PSNR, codes used, perplexity) within 1% of its recorded value, and 99% of the latent entries
#: of the first faces the same (codes equal; continuous latents within 1e-3).
FIT_TOLERANCE = {"relative": 0.01, "agreement": 0.99}
_FITTING: set[tuple[str, str]] = set()  # (model, how the faces differ) found to fit in this process: said once


def pretrained_path(kind: str, label: str, made_by: dict) -> Path:
    """The cache file of a pretrained generator, `cache/KIND/LABEL-KEY.pt`, KEY the hash of what makes it."""
    if made_by.get("faces") is None:
        raise ValueError("a pretrained generator is cached under the spec of its training faces, and these have none: "
                         "pass a FaceDataset from `load_faces` or `render_faces` (or a subset of one)")
    return get_paths().cache / kind / f"{label}-{spec_key(made_by)}.pt"


def retrain_command(preset: Preset, faces: FaceDataset, kind: str) -> str:
    """The command that trains a generator of a kind for these faces anew, replacing the one in the cache."""
    return f"python -m happy_utils pretrain --preset {preset.name} --source {faces.source} --generator {kind} --retrain"


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


def measure_fit(model: nn.Module, images: torch.Tensor) -> dict:
    """How a generator fits the first faces of its training set: its quality measures and their latent points."""
    first = images[:FIT_FACES]
    latents = model.encode(first).cpu()
    return {"faces": len(first), **model.quality(first),
            "latents": latents.short() if not latents.is_floating_point() else latents}  # codes < 2**15


def fit_change(made: dict, now: dict) -> tuple[bool, str]:
    """Whether a fit measured now stays within `FIT_TOLERANCE` of the one recorded when the model was made, and a
    line that says both."""
    measures = [k for k in made if k not in ("faces", "latents")]
    same = torch.isclose(now["latents"].float(), made["latents"].float(), rtol=0, atol=1e-3)
    agreement = float(same.float().mean())
    fits = agreement >= FIT_TOLERANCE["agreement"] and all(
        abs(now[k] - made[k]) <= FIT_TOLERANCE["relative"] * abs(made[k]) for k in measures)
    told = ", ".join(f"{k} {now[k]:.4g} (made: {made[k]:.4g})" for k in measures)
    return fits, f"on its first {now['faces']} faces {told}, {agreement:.2%} of the latents the same"


def check_fit(model: nn.Module, images: torch.Tensor, path: Path, command: str) -> None:
    """Take a pretrained model for these faces when their pixels are the recorded ones, or when they differ (another
    CPU's rounding) and the model still fits them by measurement; say which in one line. A model that does not fit is
    a clear error with the command that trains one: never a silent hour of training."""
    differ = compare_pixels(model.meta["pixels"], images)
    if differ is None or (str(path), differ) in _FITTING:
        return
    fits, told = fit_change(model.meta["fit"], measure_fit(model, images))
    if not fits:
        raise ValueError(f"{path} does not fit these faces: {differ}; {told}. Within rounding each measure stays "
                         f"within {FIT_TOLERANCE['relative']:.0%} and {FIT_TOLERANCE['agreement']:.0%} of the latents "
                         f"the same, so the data changed (another renderer, other faces). Train a model for them "
                         f"(it replaces this one in the cache): {command}")
    print(f"{path.name}: {differ}; it fits them as when it was made ({told}): taking it", flush=True)
    _FITTING.add((str(path), differ))


def cached_or_trained(path: Path, made_by: dict, images: torch.Tensor, load: Callable[[Path], M],
                      train: Callable[[Path], tuple[M, dict]], save: Callable[[M, Path, dict], None],
                      command: str, retrain: bool = False) -> M:
    """The model cached at `path` (named by `made_by`), else the repository's shipped copy of it
    (`shipped_model`), each checked against these faces (`check_fit`, `command` trains one anew); else, or with
    `retrain`, a trained one.

    `train(state_path)` trains from scratch (resuming from `state_path` if an earlier training was interrupted) and
    returns the model and its training's record; it is saved with what made it, the pixels of its faces and its fit
    to them, and the state file is removed.
    """
    if not retrain:
        shipped = None if path.exists() else shipped_model(path)
        if shipped is not None:
            with atomic_path(path) as tmp:
                shutil.copyfile(shipped, tmp)
            print(f"the repository ships this model: {shipped.name} copied into {path.parent}", flush=True)
        if path.exists():
            model = load(path)
            if model.meta.get("made_by") == made_by:
                check_fit(model, images, path, command)
                return model
            warnings.warn(f"{path} was made by {model.meta.get('made_by')}, not {made_by}; training it again",
                          stacklevel=3)
    state = path.with_name(path.stem + ".state.pt")
    model, record = train(state)
    save(model, path, {"made_by": made_by, **record, "pixels": record_pixels(images),
                       "fit": measure_fit(model, images), "made_with": made_with()})
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
