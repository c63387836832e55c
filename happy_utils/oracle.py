"""The black-box objective: images -> expected smile degree in [0, 5], one interface for every data source.

Why: the method treats the smile scorer f as a black box that it may only query. For the synthetic world it is a
six-class CNN trained here on all degrees (the *oracle*); an independent *judge* (other architecture, other seed, other
data) is kept for evaluation only, to tell whether optimised faces really smile or merely fool the oracle.
Both read out the expected degree f(x) = softmax(logits / T) . [0, 1, 2, 3, 4, 5], as the paper's CelebA predictor does.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .config import get_paths, get_source, device as default_device
from .data import FaceDataset, as_float, render_faces

N_LEVELS = 6
LEVELS = torch.arange(N_LEVELS, dtype=torch.float32)
CHECKPOINT_FORMAT = "happy-oracle-v1"
#: Shipped weights, their training seed, and the file of checksums beside them in data/.
SHIPPED = {"oracle": ("oracle_synthetic.pt", 1), "judge": ("judge_synthetic.pt", 2)}
CHECKSUMS = "SHA256SUMS"


@dataclass
class SmileScores:
    """What a scorer returns for N images."""

    degree: torch.Tensor  # (N,) expected degree in [0, 5]
    probs: torch.Tensor  # (N, 6) class probabilities

    @property
    def level(self) -> torch.Tensor:
        """The most probable smile level."""
        return self.probs.argmax(dim=1)


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """Fail clearly unless `images` is a batch (N, 3, 64, 64): uint8, or float in [0, 1]."""
    if not torch.is_tensor(images):
        raise TypeError(f"{name} must be a torch tensor (N, 3, 64, 64), got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (3, 64, 64):
        raise ValueError(f"{name} must have shape (N, 3, 64, 64), got {tuple(images.shape)}; channels come first")
    if images.dtype == torch.uint8:
        return
    if not images.is_floating_point():
        raise ValueError(f"{name} must be float in [0, 1] or uint8, got {images.dtype}")
    if len(images) and (images.min() < -1e-3 or images.max() > 1 + 1e-3):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{images.min():.3f}, {images.max():.3f}]; "
                         "images normalised to [-1, 1] need (x + 1) / 2")


class SmileScorer(nn.Module):
    """Base of every smile scorer: subclasses map (N, 3, 64, 64) images in [0, 1] to six logits."""

    temperature: float = 1.0

    @torch.no_grad()
    def score(self, images: torch.Tensor, batch_size: int = 500) -> SmileScores:
        """Expected degree and class probabilities of images (uint8, or float in [0, 1]), in chunks, in eval mode."""
        check_images(images)
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        probs = [F.softmax(self(as_float(chunk).to(dev)) / self.temperature, dim=1).cpu()
                 for chunk in images.split(batch_size)] or [torch.empty(0, N_LEVELS)]
        self.train(was_training)
        probs = torch.cat(probs)
        return SmileScores(degree=probs @ LEVELS, probs=probs)


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
    """The judge: another design on purpose: 5x5 stem, max pooling, GroupNorm, GELU, a flattened fully-connected head."""

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


def oracle_metrics(scores: SmileScores, labels: torch.Tensor, degree: torch.Tensor) -> dict[str, float]:
    """Exact-class and within-one-class accuracy of the most probable level, and MAE of the expected degree to s."""
    level = scores.level
    return {
        "exact_acc": float((level == labels).float().mean()),
        "within_one_acc": float(((level - labels).abs() <= 1).float().mean()),
        "mae": float((scores.degree - degree).abs().mean()),
    }


def data_seeds(seed: int, epochs: int) -> list[int]:
    """The seeds of the faces an oracle of this seed sees: one fresh rendering per epoch, plus a validation set."""
    return [seed * 1000 + e for e in range(epochs)] + [seed * 1000 + 999]


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
    if partial.exists():
        state = torch.load(partial, map_location=dev, weights_only=False)
        if state["config"] == config:
            net.load_state_dict(state["state_dict"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            gen.set_state(state["generator"])
            history, start_epoch = state["history"], state["epoch"]
    bar = tqdm(range(start_epoch, epochs), desc=f"training {arch}", initial=start_epoch, total=epochs)
    for epoch in bar:
        faces = render_faces(images_per_epoch, data_seeds(seed, epochs)[epoch], progress=False)
        x_all, t_all = faces.float_images(), soft_targets(faces.degree)
        order = torch.randperm(len(faces), generator=gen)
        net.train()
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch_size:(step + 1) * batch_size]
            x = _augment(x_all[idx], gen).to(dev)
            loss = torch.sum(-t_all[idx].to(dev) * F.log_softmax(net(x), dim=1), dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        metrics = oracle_metrics(net.score(valid.float_images()), valid.labels, valid.degree)
        history.append({"epoch": epoch + 1, "loss": total / len(faces), **metrics})
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", acc=f"{metrics['exact_acc']:.3f}",
                        mae=f"{metrics['mae']:.3f}")
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"config": config, "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "generator": gen.get_state(), "history": history,
                    "epoch": epoch + 1}, partial)
    checkpoint = {
        "format": CHECKPOINT_FORMAT, "arch": arch, "temperature": 1.0,
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
        "meta": {**config, "data_seeds": data_seeds(seed, epochs), "history": history, "torch": str(torch.__version__)},
    }
    torch.save(checkpoint, out)
    partial.unlink(missing_ok=True)
    return checkpoint


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksum(path: Path) -> None:
    """Record a file's sha256 in the SHA256SUMS file beside it (the format of `sha256sum`)."""
    sums = path.parent / CHECKSUMS
    lines = [ln for ln in (sums.read_text().splitlines() if sums.exists() else [])
             if ln.strip() and ln.split()[-1] != path.name]
    sums.write_text("\n".join(sorted(lines + [f"{sha256(path)}  {path.name}"])) + "\n")


def verify_checksum(path: Path) -> None:
    """Fail clearly when a shipped file does not match the checksum written beside it."""
    sums = path.parent / CHECKSUMS
    expected = {ln.split()[-1]: ln.split()[0] for ln in sums.read_text().splitlines() if ln.strip()} \
        if sums.exists() else {}
    if path.name not in expected:
        raise FileNotFoundError(f"no checksum for {path} in {sums}; retrain it with "
                                f"`python -m happy_utils train-oracle`, which writes both")
    if sha256(path) != expected[path.name]:
        raise ValueError(f"{path} does not match its checksum in {sums}: the file is damaged or was replaced. "
                         f"Restore it with `git checkout -- {path.name}` in {path.parent}, or retrain it with "
                         f"`python -m happy_utils train-oracle`")


def load_scorer(which: str = "oracle", path: Path | None = None, dev: torch.device | None = None,
                verify: bool = True, source: str | None = None) -> SmileScorer:
    """The black box of a data source: the shipped synthetic oracle or judge (checksum-verified), a checkpoint saved
    by `train_scorer`, or on CelebA Talk-to-Edit's predictor (`predictor_128.pth.tar` in $HAPPY_CELEBA_DIR)."""
    if which not in SHIPPED:
        raise ValueError(f"unknown scorer {which!r}; valid: {', '.join(SHIPPED)}")
    if get_source(source) == "celeba":
        from .celeba import PREDICTOR_FILE, celeba_root
        from .predictor import load_predictor

        if which == "judge":
            raise FileNotFoundError("CelebA has no independent judge: the paper's only black box is Talk-to-Edit's "
                                    "predictor, the oracle. Use `load_scorers`, which leaves the judge out there")
        return load_predictor(path or celeba_root() / PREDICTOR_FILE, dev)
    path = Path(path) if path is not None else get_paths().data / SHIPPED[which][0]
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the repository ships it in data/; recreate it with "
                                f"`python -m happy_utils train-oracle --which {which}`")
    if verify:
        verify_checksum(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or ckpt.get("arch") != which:
        raise ValueError(f"{path} is not a {which} checkpoint of format {CHECKPOINT_FORMAT}")
    net = ARCHITECTURES[which]()
    net.load_state_dict(ckpt["state_dict"])
    net.temperature = float(ckpt["temperature"])
    net.meta = ckpt["meta"]
    return net.to(dev or default_device()).eval()


def load_scorers(source: str | None = None, dev: torch.device | None = None) -> dict[str, SmileScorer]:
    """Every scorer of a data source by role: the oracle, and the judge where there is one (synthetic only)."""
    if get_source(source) == "celeba":
        return {"oracle": load_scorer("oracle", dev=dev, source="celeba")}
    return {which: load_scorer(which, dev=dev, source="synthetic") for which in SHIPPED}


def evaluate_scorers(seed: int, n: int = 2000) -> dict[str, dict[str, float]]:
    """Oracle and judge quality on n freshly rendered faces of a seed that neither saw in training."""
    scorers = {which: load_scorer(which, source="synthetic") for which in SHIPPED}
    for which, net in scorers.items():
        if seed in net.meta["data_seeds"]:
            raise ValueError(f"seed {seed} was used to train the {which} (its seeds: {net.meta['data_seeds']}); "
                             "pick another seed")
    faces: FaceDataset = render_faces(n, seed, progress=False)
    x = faces.float_images()
    return {which: oracle_metrics(net.score(x), faces.labels, faces.degree) for which, net in scorers.items()}

