"""Realism with ground truth: is an image a face the synthetic world could have rendered? (analysis by synthesis)

Why: a smile reader can be fooled (an optimiser finds pixels that raise its score without drawing a smile), and a
Frechet distance on smile features measures smiles, not faces. The synthetic world knows what a face is: a render
of some valid `FaceParams`. An inverse network, trained on fresh renders of every level, predicts all the parameters
of an image (the smile's ingredients and every nuisance factor); the prediction is rendered again, without sensor
noise, and the image's realism error is how far it lies from that re-render. Optimised faces whose edits no valid
face explains fail; and the re-render's true smile degree is a physically grounded judge that no pixel trick fools.

The distance: both images blurred (Gaussian, sigma 1: sensor noise and the decoders' softness are not what makes a
face unreal), the mean absolute difference per 8x8 latent cell, and the mean of the `WORST_CELLS` worst cells (an
edit that no face explains is local, like the latent cells the optimiser changes). The pass threshold is a quantile of
the errors of clean renders of a calibration seed; `python -m happy_utils eval-quality` validates it on another seed.
The inverse network's 512 features also give a *world FID*: a Frechet distance in features trained to read the whole
face, not only its smile.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..config import device as default_device
from ..data import world
from ..files import atomic_path
from ..images import as_float, check_images
from ..progress import resume_progress, save_progress

CHECKPOINT_FORMAT = "happy-realism-v1"
BLUR_SIGMA, CELL, WORST_CELLS = 1.0, 8, 4
PASS_QUANTILE = 0.98  # of clean calibration renders' errors: the pass threshold

#: Every continuous parameter the inverse network predicts, with its width and the range `sample_faces` draws it from
#: (scaled to [-1, 1] for the network). The background gradient is predicted in a form that one image determines:
#: its colour at the centre, (top + bottom) / 2, and its slope, (bottom - top) times the direction (cos, sin) of its
#: angle; (top, bottom, angle) itself is ambiguous, since (bottom, top, angle + pi) renders the same image.
CONTINUOUS: tuple[tuple[str, int, float, float], ...] = (
    ("ingredients", len(world.INGREDIENTS), 0.0, 1.0), ("center_x", 1, -3.0, 3.0), ("center_y", 1, -3.0, 3.0),
    ("angle", 1, -0.1, 0.1), ("scale", 1, 0.93, 1.07), ("aspect", 1, 0.9, 1.08), ("skin", 3, 0.0, 1.0),
    ("hair_color", 3, 0.0, 1.0), ("hair_volume", 1, 1.0, 4.0), ("brow_height", 1, -1.2, 1.2),
    ("brow_tilt", 1, -0.18, 0.18), ("brow_thickness", 1, 2.0, 3.0), ("gaze", 1, -0.8, 0.8),
    ("glasses_color", 3, 0.0, 0.5), ("bg_centre", 3, 0.0, 1.0), ("bg_slope", 6, -1.0, 1.0),
    ("brightness", 1, 0.82, 1.12), ("shade", 1, -0.18, 0.18), ("noise_amp", 1, 0.0, 0.035),
)
#: The discrete parameters, as classes.
CLASSES = {"hair_style": world.N_HAIR_STYLES, "glasses": 2, "eye_color": len(world.EYE_COLORS)}
N_CONTINUOUS = sum(width for _, width, _, _ in CONTINUOUS)


def encode(params: world.FaceParams) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """FaceParams -> the network's targets: continuous values scaled to [-1, 1], and class indices."""
    direction = np.stack([np.cos(params.bg_angle), np.sin(params.bg_angle)], axis=1)
    background = {"bg_centre": (params.bg_top + params.bg_bottom) / 2,
                  "bg_slope": ((params.bg_bottom - params.bg_top)[:, :, None] * direction[:, None, :]).reshape(-1, 6)}
    columns = []
    for name, width, lo, hi in CONTINUOUS:
        value = background[name] if name in background else getattr(params, name)
        columns.append(2 * (np.asarray(value, dtype=np.float32).reshape(len(params), width) - lo) / (hi - lo) - 1)
    eye = np.argmin(((params.eye_color[:, None, :] - world.EYE_COLORS[None]) ** 2).sum(-1), axis=1)
    classes = {"hair_style": params.hair_style, "glasses": params.glasses.astype(np.int64), "eye_color": eye}
    return torch.from_numpy(np.concatenate(columns, axis=1)), {k: torch.as_tensor(v, dtype=torch.long)
                                                                for k, v in classes.items()}


def decode(continuous: torch.Tensor, logits: dict[str, torch.Tensor]) -> world.FaceParams:
    """The network's outputs -> valid FaceParams (clipped to their ranges), without sensor noise."""
    values = continuous.detach().cpu().clamp(-1, 1).numpy()
    n, out, col = len(values), {}, 0
    for name, width, lo, hi in CONTINUOUS:
        v = lo + (values[:, col:col + width] + 1) / 2 * (hi - lo)
        col += width
        out[name] = v if width > 1 else v[:, 0]
    # The slope is (bottom - top) times a unit direction: its best rank-one factors give both back.
    u, sv, vt = np.linalg.svd(out.pop("bg_slope").reshape(n, 3, 2).astype(np.float64))
    diff, direction = u[:, :, 0] * sv[:, :1], vt[:, 0, :]
    centre = out.pop("bg_centre")
    out["bg_top"], out["bg_bottom"] = np.clip(centre - diff / 2, 0, 1), np.clip(centre + diff / 2, 0, 1)
    out["bg_angle"] = np.arctan2(direction[:, 1], direction[:, 0]) % (2 * math.pi)
    picked = {k: v.argmax(dim=1).cpu().numpy() for k, v in logits.items()}
    out["noise_amp"] = np.zeros(n, dtype=np.float32)
    return world.FaceParams(
        **{k: np.asarray(v, dtype=np.float32) for k, v in out.items()}, hair_style=picked["hair_style"],
        glasses=picked["glasses"].astype(bool), eye_color=world.EYE_COLORS[picked["eye_color"]].astype(np.float32),
        noise_tile=np.zeros(n, dtype=np.int64))


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class InverseNet(nn.Module):
    """Image -> every FaceParams field: strided convolutions, a flattened 4x4 map (positions matter), 512 features."""

    def __init__(self, width: int = 24):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            _block(3, w, 2), _block(w, 2 * w, 1),  # 32x32
            _block(2 * w, 2 * w, 2), _block(2 * w, 4 * w, 1),  # 16x16
            _block(4 * w, 4 * w, 2), _block(4 * w, 4 * w, 1),  # 8x8
            _block(4 * w, 8 * w, 2),  # 4x4
            nn.Flatten(), nn.Linear(8 * w * 16, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
        )
        self.continuous = nn.Linear(512, N_CONTINUOUS)
        self.classes = nn.ModuleDict({k: nn.Linear(512, n) for k, n in CLASSES.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512 features of images in [0, 1]: the world FID's features."""
        return self.trunk(x - 0.5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.features(x)
        return torch.tanh(self.continuous(h)), {k: head(h) for k, head in self.classes.items()}


@functools.cache
def _blur_matrix(size: int) -> torch.Tensor:
    """The Gaussian blur along one axis, replicate padding included, as a (size, size) matrix: `B @ x @ B.T` blurs
    every channel in two matrix products (13x faster on a CPU than the equivalent depthwise convolutions)."""
    radius = math.ceil(3 * BLUR_SIGMA)
    t = torch.arange(-radius, radius + 1)
    k = torch.exp(-t.double() ** 2 / (2 * BLUR_SIGMA ** 2))
    rows = torch.arange(size).unsqueeze(1)
    cols = (rows + t.unsqueeze(0)).clamp(0, size - 1)  # replicate padding: outside pixels are the edge's
    m = torch.zeros(size, size, dtype=torch.float64)
    m.index_put_((rows.expand_as(cols), cols), (k / k.sum()).expand_as(cols), accumulate=True)
    return m.float()


def _blur(images: torch.Tensor) -> torch.Tensor:
    """Gaussian blur (sigma `BLUR_SIGMA`, replicate padding) of (N, C, H, W) images."""
    h, w = images.shape[-2:]
    return _blur_matrix(h).to(images.device) @ images @ _blur_matrix(w).to(images.device).T


def cell_errors(images: torch.Tensor, rerenders: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the blurred images per 8x8 cell: (N, 8, 8). The blur is linear, so the difference
    is blurred once."""
    diff = _blur(as_float(images) - as_float(rerenders).to(images.device)).abs().mean(dim=1, keepdim=True)
    return F.avg_pool2d(diff, CELL)[:, 0]


def realism_error(images: torch.Tensor, rerenders: torch.Tensor) -> torch.Tensor:
    """The mean of each image's `WORST_CELLS` worst cell errors."""
    cells = cell_errors(images, rerenders).flatten(1)
    return cells.topk(WORST_CELLS, dim=1).values.mean(dim=1)


@dataclass
class RealismReport:
    """Per image: the realism error, whether it passes, the re-render, its parameters and true smile degree."""

    error: torch.Tensor  # (N,)
    passed: torch.Tensor  # (N,) bool
    true_degree: torch.Tensor  # (N,) the re-render's smile degree s, from its predicted ingredients
    rerender: torch.Tensor  # (N, 3, 64, 64) float
    params: world.FaceParams

    def __len__(self) -> int:
        return len(self.error)


class RealismJudge:
    """The trained inverse network with its pass threshold: `assess` images, `embed` them for the world FID."""

    name = "world features (realism inverse network, 512)"

    def __init__(self, net: InverseNet, threshold: float, meta: dict | None = None):
        # channels-last: 1.3x faster convolutions on a CPU, the same sums up to float round-off
        self.net = net.eval().to(memory_format=torch.channels_last)
        self.threshold, self.meta = float(threshold), meta or {}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512 features of a float batch in [0, 1] on the network's device: the world FID's features."""
        return self.net.features(x.contiguous(memory_format=torch.channels_last))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 500) -> world.FaceParams:
        """The parameters the inverse network reads off images (uint8, or float in [0, 1])."""
        check_images(images)
        dev = next(self.net.parameters()).device
        parts = []
        for b in images.split(batch_size):
            cont, logits = self.net(as_float(b).to(dev).contiguous(memory_format=torch.channels_last))
            parts.append(decode(cont, logits))
        return world.FaceParams.concat(parts) if parts else decode(torch.zeros(0, N_CONTINUOUS),
                                                                   {k: torch.zeros(0, n) for k, n in CLASSES.items()})

    @torch.no_grad()
    def assess(self, images: torch.Tensor) -> RealismReport:
        params = self.predict(images)
        rerender = world.render(params)
        error = realism_error(images, rerender)
        return RealismReport(error=error, passed=error <= self.threshold,
                             true_degree=torch.from_numpy(params.degree.astype(np.float32)), rerender=rerender,
                             params=params)

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        dev = next(self.net.parameters()).device
        return torch.cat([self.features(as_float(b).to(dev)).cpu() for b in images.split(500)])


# ------------------------------------------------------------------------------------------------------- training

def _batch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    params = world.sample_faces(n, seed)
    cont, classes = encode(params)
    return world.render(params), cont, classes


def train_inverse(steps: int, out: Path, seed: int = 3, batch_size: int = 64, lr: float = 2e-3, width: int = 24,
                  save_every: int = 200, dev: torch.device | None = None, progress: bool = True) -> dict:
    """Train the inverse network on fresh renders (seed * 1_000_000 + step: never a face twice), resumably.

    Progress is saved every `save_every` steps to `out` + '.partial'; an interrupted training resumes there. The
    checkpoint holds no threshold yet: `calibrate_threshold` adds it.
    """
    dev = dev or default_device()
    torch.manual_seed(seed)
    net = InverseNet(width).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    config = {"seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr, "width": width}
    partial = Path(str(out) + ".partial")
    parts = {"model": net, "optimizer": opt, "scheduler": sched}
    start, history, seconds = 0, [], 0.0
    state = resume_progress(partial, config, parts, dev)
    if state is not None:
        start, history, seconds = state["step"], state["history"], state["seconds"]
    began = time.perf_counter() - seconds
    net.train()
    bar = tqdm(range(start, steps), desc="training the realism inverse network", initial=start, total=steps,
               disable=not progress)
    for step in bar:
        images, cont, classes = _batch(batch_size, seed * 1_000_000 + step)
        pred, logits = net(images.to(dev))
        loss_c = F.mse_loss(pred, cont.to(dev))
        loss_k = sum(F.cross_entropy(logits[k], classes[k].to(dev)) for k in CLASSES) / len(CLASSES)
        loss = loss_c + 0.1 * loss_k
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            history.append({"step": step, "continuous": loss_c.item(), "classes": loss_k.item()})
            bar.set_postfix(cont=f"{loss_c.item():.4f}", cls=f"{loss_k.item():.3f}")
        if (step + 1) % save_every == 0 or step == steps - 1:
            save_progress(partial, config, parts, step=step + 1, history=history,
                          seconds=time.perf_counter() - began)
    checkpoint = {"format": CHECKPOINT_FORMAT, "config": config, "threshold": None,
                  "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
                  "meta": {**config, "history": history, "seconds": round(time.perf_counter() - began, 1),
                           "torch": str(torch.__version__)}}
    with atomic_path(out) as tmp:
        torch.save(checkpoint, tmp)
    partial.unlink(missing_ok=True)
    return checkpoint


def calibrate_threshold(judge: RealismJudge, seed: int, n: int, quantile: float = PASS_QUANTILE) -> dict:
    """The pass threshold: the `quantile` of the realism errors of n clean renders of a calibration seed."""
    faces = world.render(world.sample_faces(n, seed))
    errors = judge.assess(faces).error
    threshold = float(torch.quantile(errors, quantile))
    judge.threshold = threshold
    return {"seed": seed, "n": n, "quantile": quantile, "threshold": threshold,
            "clean_error_mean": float(errors.mean())}


def load_judge(path: Path, dev: torch.device | None = None) -> RealismJudge:
    """A realism judge from a checkpoint written by `train_inverse` and calibrated."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a realism checkpoint of format {CHECKPOINT_FORMAT}")
    net = InverseNet(ckpt["config"]["width"])
    net.load_state_dict(ckpt["state_dict"])
    return RealismJudge(net.to(dev or default_device()), ckpt["threshold"] if ckpt["threshold"] is not None
                        else float("inf"), ckpt["meta"])


def save_judge(judge: RealismJudge, path: Path, config: dict, calibration: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, "config": config, "threshold": judge.threshold,
                    "state_dict": {k: v.cpu().contiguous() for k, v in judge.net.state_dict().items()},
                    "meta": {**judge.meta, "calibration": calibration}}, tmp)
