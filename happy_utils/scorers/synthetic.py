"""The synthetic world's black box: the oracle the optimiser queries and the judge that only evaluates, and how both
are trained.

Why: for the synthetic world the black box is a six-class CNN trained here on all degrees (the *oracle*); an
independent *judge* (other architecture, other seed, other data) is kept for evaluation only, to tell whether
optimised faces really smile or merely fool the oracle. Their weights ship in data/ (see `scorers.loading`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..config import device as default_device
from ..data.faces import render_faces
from ..files import atomic_path
from ..progress import resume_progress, save_progress
from .base import N_LEVELS, SmileScorer, oracle_metrics

CHECKPOINT_FORMAT = "happy-oracle-v1"


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class OracleNet(SmileScorer):
    """The oracle: strided 3x3 convolutions with batch norm, global average pooling, a linear six-class head."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv(3, w, 2), _conv(w, w, 1),  # 32x32
            _conv(w, 2 * w, 2), _conv(2 * w, 2 * w, 1),  # 16x16
            _conv(2 * w, 4 * w, 2),  # 8x8
            _conv(4 * w, 8 * w, 2),  # 4x4
        )
        self.head = nn.Linear(8 * w, N_LEVELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class JudgeNet(SmileScorer):
    """The judge: another design on purpose: 5x5 stem, max pooling, GroupNorm, GELU, a flattened fully-connected
    head."""

    def __init__(self, width: int = 24):
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.GroupNorm(8, cout), nn.GELU(), nn.MaxPool2d(2))

        self.features = nn.Sequential(
            nn.Conv2d(3, w, 5, 2, 2), nn.GELU(),  # 32x32
            block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 6 * w),  # 16, 8, 4
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(6 * w * 16, 128), nn.GELU(), nn.Dropout(0.2),
                                  nn.Linear(128, N_LEVELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 128 features before the last layer: the FID features where InceptionV3's weights are absent."""
        return self.head[:3](self.features(x))


ARCHITECTURES = {"oracle": OracleNet, "judge": JudgeNet}


def soft_targets(degree: torch.Tensor) -> torch.Tensor:
    """Split each degree between its two neighbouring levels, so that the expected degree can match s exactly."""
    lo = degree.floor().clamp(0, N_LEVELS - 1)
    frac = (degree - lo).clamp(0, 1)
    target = torch.zeros(len(degree), N_LEVELS)
    target.scatter_(1, lo.long()[:, None], (1 - frac)[:, None])
    target.scatter_add_(1, (lo.long() + 1).clamp(max=N_LEVELS - 1)[:, None], frac[:, None])
    return target


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random blur on half of a batch: decoded images are softer than rendered ones, and the oracle must rate both."""
    from torchvision.transforms.functional import gaussian_blur

    mask = torch.rand(len(x), generator=gen) < 0.5
    if mask.any():
        sigma = float(torch.empty(1).uniform_(0.4, 1.1, generator=gen))
        x = x.clone()
        x[mask] = gaussian_blur(x[mask], kernel_size=5, sigma=sigma)
    return x


def data_seeds(seed: int, epochs: int) -> list[int]:
    """The seeds of the faces an oracle of this seed sees: one fresh rendering per epoch, plus a validation set."""
    return [seed * 1000 + e for e in range(epochs)] + [seed * 1000 + 999]


def _epoch(net: SmileScorer, opt, sched, faces, gen: torch.Generator, batch_size: int, dev: torch.device) -> float:
    """One epoch over these faces in a shuffled order, each batch augmented, against the degree's soft targets (one
    scheduler step per batch); the mean loss."""
    x_all, t_all = faces.float_images(), soft_targets(faces.degree)
    order = torch.randperm(len(faces), generator=gen)
    net.train()
    total = 0.0
    for step in range(math.ceil(len(faces) / batch_size)):
        idx = order[step * batch_size:(step + 1) * batch_size]
        x = _augment(x_all[idx], gen).to(dev)
        loss = torch.sum(-t_all[idx].to(dev) * F.log_softmax(net(x), dim=1), dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item() * len(idx)
    return total / len(faces)


def train_scorer(arch: str, seed: int, images_per_epoch: int, epochs: int, out: Path, batch_size: int = 128,
                 lr: float = 2e-3, valid_size: int = 1000, dev: torch.device | None = None) -> dict:
    """Train a six-class scorer on freshly rendered faces of all degrees and save it to `out`.

    Each epoch renders new faces (seed * 1000 + epoch), so the net never sees a face twice. Progress is saved after
    every epoch to `out` + '.partial'; an interrupted training resumes from there.
    """
    dev = dev or default_device()
    torch.manual_seed(seed)
    net = ARCHITECTURES[arch]().to(dev)
    steps_per_epoch = math.ceil(images_per_epoch / batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    valid = render_faces(valid_size, data_seeds(seed, epochs)[-1], progress=False)
    config = {"arch": arch, "seed": seed, "images_per_epoch": images_per_epoch, "epochs": epochs,
              "batch_size": batch_size, "lr": lr}
    history: list[dict] = []
    start_epoch = 0
    partial = Path(str(out) + ".partial")
    parts = {"model": net, "optimizer": opt, "scheduler": sched, "generator": gen}
    state = resume_progress(partial, config, parts, dev)
    if state is not None:
        history, start_epoch = state["history"], state["epoch"]
    bar = tqdm(range(start_epoch, epochs), desc=f"training {arch}", initial=start_epoch, total=epochs)
    for epoch in bar:
        faces = render_faces(images_per_epoch, data_seeds(seed, epochs)[epoch], progress=False)
        loss = _epoch(net, opt, sched, faces, gen, batch_size, dev)
        metrics = oracle_metrics(net.score(valid.float_images()), valid.labels, valid.degree)
        history.append({"epoch": epoch + 1, "loss": loss, **metrics})
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", acc=f"{metrics['exact_acc']:.3f}",
                        mae=f"{metrics['mae']:.3f}")
        save_progress(partial, config, parts, history=history, epoch=epoch + 1)
    checkpoint = {
        "format": CHECKPOINT_FORMAT, "arch": arch, "temperature": 1.0,
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
        "meta": {**config, "data_seeds": data_seeds(seed, epochs), "history": history, "torch": str(torch.__version__)},
    }
    with atomic_path(out) as tmp:
        torch.save(checkpoint, tmp)
    partial.unlink(missing_ok=True)
    return checkpoint
