"""The paper's black box on CelebA: Talk-to-Edit's attribute predictor, read out as an expected smile degree.

Why: the authors score CelebA images with the CelebA-Dialog attribute predictor of Talk-to-Edit
(`predictor_128.pth.tar`): a ResNet-50 trunk, a shared `stem` fc block (2048 -> 512) and one six-level head per
attribute, named `classifier06Bangs`, `classifier16Eyeglasses`, `classifier25No_Beard`, `classifier32Smiling` and
`classifier40Young` after their CelebA attribute numbers. The module names here match the checkpoint's keys, so it
loads strictly. A 64x64 image is upscaled bicubically to 128, normalised with ImageNet's mean and standard deviation,
and the Smiling head's logits go through softmax(logits / T); the expected level is f(x).

The temperature T is learned, not given. The authors wrap the predictor as `ModelWithTemperature(predictor, 3)`,
where 3 is the index of the Smiling head, not T; T starts at 1.5, is fitted by negative log-likelihood on validation
labels (L-BFGS, lr 0.01, 50 iterations) and stored in their scaled state dict (`predictor_128_scaled3.pth.tar`: the
predictor's weights under `model.`, plus `temperature`). Such a file is loaded as it is. With the plain
`predictor_128.pth.tar`, `calibrate` fits T by the same NLL on CelebA-Dialog's validation split (to convergence: see
`fit_temperature`) and writes it beside the predictor (`predictor_128.temperature.json`, with the validation NLL and
ECE before and after), where loading finds it.
Nothing is downloaded: the ResNet is built without ImageNet weights, the checkpoint provides them all.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Preset, Source
from ..config import device as default_device
from ..data.sources import load_faces
from ..files import sha256, write_text
from ..images import as_float
from .base import N_LEVELS, SmileScorer

#: The heads of the checkpoint: CelebA attribute number -> CelebA-Dialog attribute.
HEADS = {6: "Bangs", 16: "Eyeglasses", 25: "No_Beard", 32: "Smiling", 40: "Young"}
INPUT_SIZE = 128
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREDICTOR_FILE = "predictor_128.pth.tar"  # Talk-to-Edit's released predictor
SCALED_FILE = "predictor_128_scaled3.pth.tar"  # the authors' temperature-scaled state dict
CALIBRATION_SUFFIX = ".temperature.json"  # beside a plain predictor: the temperature `calibrate` fitted
INITIAL_TEMPERATURE, ECE_BINS = 1.5, 15  # the authors' temperature scaling starts at 1.5 and bins confidence in 15
WHERE = ("Talk-to-Edit's predictor_128.pth.tar is published on the Google Drive linked from "
         "https://github.com/yumingj/Talk-to-Edit (download/pretrained_models); put it in $HAPPY_CELEBA_DIR.")


class _FcBlock(nn.Module):
    """Linear, BatchNorm1d, ReLU: Talk-to-Edit's `fc_block` (its dropout is off in the released predictor)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.bn = nn.BatchNorm1d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.fc(x)))


def head_name(number: int) -> str:
    return f"classifier{number:02d}{HEADS[number]}"


class AttributePredictor(SmileScorer):
    """ResNet-50 -> avgpool -> stem(2048 -> 512) -> one head per attribute; `forward` gives the Smiling logits.
    `temperature` is set by `load_predictor`."""

    def __init__(self):
        super().__init__()
        from torchvision.models import resnet50

        trunk = resnet50(weights=None)  # no download: every weight comes from the checkpoint
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            setattr(self, name, getattr(trunk, name))
        self.stem = _FcBlock(2048, 512)
        for number in HEADS:
            setattr(self, head_name(number), nn.Sequential(_FcBlock(512, 256), nn.Linear(256, N_LEVELS)))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 64, 64) in [0, 1] -> bicubic 128x128, ImageNet-normalised."""
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", align_corners=False).clamp(0, 1)
        return (x - self.mean) / self.std

    def attributes(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The six-level logits of every head for (N, 3, 64, 64) images in [0, 1]."""
        h = self._trunk(x)
        return {HEADS[n]: getattr(self, head_name(n))(h) for n in HEADS}

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        h = self.preprocess(x)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            h = getattr(self, name)(h)
        return self.stem(torch.flatten(h, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attributes(x)["Smiling"]

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The shared 512 features (`stem`): FID features on CelebA where InceptionV3's weights are absent."""
        return self._trunk(x)


def save_predictor(net: AttributePredictor, path: Path) -> None:
    """Save in the released format: a dict whose "state_dict" holds the weights (how the tests make fixtures)."""
    torch.save({"state_dict": net.state_dict()}, path)


def save_scaled_predictor(net: AttributePredictor, temperature: float, path: Path) -> None:
    """Save as the authors' `ModelWithTemperature` state dict: the weights under `model.`, and `temperature`."""
    torch.save({**{f"model.{k}": v for k, v in net.state_dict().items()},
                "temperature": torch.tensor([float(temperature)])}, path)


def calibration_path(path: Path) -> Path:
    """Where the temperature fitted for a plain predictor file is kept: beside it."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".pth.tar") + CALIBRATION_SUFFIX)


def _read(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found. {WHERE}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged or foreign file: pickle, zip and torch errors alike
        raise ValueError(f"{path} is not a readable torch checkpoint ({type(err).__name__}: {err}). {WHERE}") from err
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict. {WHERE}")
    return ckpt


def _weights_and_temperature(path: Path, ckpt: dict) -> tuple[dict, float | None]:
    """The predictor's weights, and the temperature if the file carries one (the authors' scaled layout)."""
    if isinstance(ckpt.get("state_dict"), dict):  # Talk-to-Edit's release: {"state_dict": weights}
        return ckpt["state_dict"], None
    if "temperature" in ckpt:  # the authors' ModelWithTemperature: model.* weights and temperature
        foreign = sorted(k for k in ckpt if k != "temperature" and not k.startswith("model."))
        if foreign:
            raise ValueError(f"{path} looks like a temperature-scaled predictor but has keys outside 'model.' "
                             f"(e.g. {', '.join(foreign[:3])}). {WHERE}")
        temperature = ckpt["temperature"]
        if not torch.is_tensor(temperature) or temperature.numel() != 1 or not float(temperature) > 0:
            raise ValueError(f"{path}: 'temperature' must be one positive number, got {temperature!r}")
        return {k.removeprefix("model."): v for k, v in ckpt.items() if k != "temperature"}, float(temperature)
    raise ValueError(f"{path} has neither a 'state_dict' entry (Talk-to-Edit's predictor_128.pth.tar) nor "
                     f"'temperature' with 'model.' weights (the authors' {SCALED_FILE}). {WHERE}")


def _calibrated_temperature(path: Path) -> float:
    cal = calibration_path(path)
    if not cal.exists():
        raise FileNotFoundError(
            f"{path} is the plain predictor, whose temperature must be fitted first: run `python -m happy_utils "
            f"calibrate-predictor` (it writes {cal.name} beside it), or put the authors' {SCALED_FILE} in "
            f"{path.parent}")
    stored = json.loads(cal.read_text())
    if stored.get("predictor_sha256") != sha256(path):
        raise ValueError(f"{cal} was fitted for another {path.name}; run `python -m happy_utils calibrate-predictor` "
                         "again")
    return float(stored["temperature"])


def load_predictor(path: Path, dev: torch.device | None = None, temperature: float | None = None
                   ) -> AttributePredictor:
    """Load a plain `predictor_128.pth.tar` or the authors' scaled state dict, strictly; a missing, wrong or partial
    checkpoint is a clear error. The temperature: `temperature` if given, else the scaled file's, else the one
    `calibrate` fitted for this plain file."""
    path = Path(path)
    weights, stored = _weights_and_temperature(path, _read(path))
    net = AttributePredictor()
    expected, given = set(net.state_dict()), set(weights)
    missing = sorted(k for k in expected - given if not k.endswith("num_batches_tracked"))  # absent in old saves
    unexpected = sorted(given - expected)
    if missing or unexpected:
        problems = [f"{len(keys)} weights {what} (e.g. {', '.join(keys[:3])})"
                    for keys, what in ((missing, "missing"), (unexpected, "unexpected")) if keys]
        raise ValueError(f"{path} does not match the Talk-to-Edit predictor: {'; '.join(problems)}. {WHERE}")
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as err:  # same names, other shapes
        raise ValueError(f"{path} has weights of the wrong shape for the Talk-to-Edit predictor: {err}") from err
    if temperature is None:
        temperature = stored if stored is not None else _calibrated_temperature(path)
    net.temperature = float(temperature)
    return net.to(dev or default_device()).eval()


def find_predictor(root: Path) -> Path:
    """The predictor file to use in a folder: the authors' scaled one if it is there, else the plain one."""
    return root / SCALED_FILE if (root / SCALED_FILE).exists() else root / PREDICTOR_FILE


# ------------------------------------------------------------------------------------------- temperature scaling

def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE of the most probable level: |accuracy - confidence| averaged over equal-width confidence bins."""
    confidence, predicted = F.softmax(logits, dim=1).max(dim=1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.float().mean() * (confidence[inside].mean() - correct[inside].mean()).abs()
    return float(ece)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T that minimises the NLL of softmax(logits / T), by L-BFGS from the authors' 1.5.

    The authors' `set_temperature` takes 50 L-BFGS steps of learning rate 0.01 without a line search; that stops
    short of the minimum (on logits whose true T is 2 it ends at 1.64), so here the line search runs to convergence.
    """
    temperature = nn.Parameter(torch.ones(1) * INITIAL_TEMPERATURE)
    optimizer = torch.optim.LBFGS([temperature], lr=1.0, max_iter=200, tolerance_grad=1e-9, tolerance_change=1e-12,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / temperature, labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(temperature.detach())


@torch.no_grad()
def smiling_logits(net: AttributePredictor, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The Smiling head's logits of images (uint8 or float in [0, 1]), before any temperature."""
    net.eval()
    dev = next(net.parameters()).device
    return torch.cat([net(as_float(b).to(dev)).cpu() for b in images.split(batch_size)])


def calibrate(root: Path, preset: Preset) -> dict:
    """Fit the plain predictor's temperature on CelebA-Dialog's validation faces (the preset's subset of them) and
    write it, with the validation NLL and ECE before (T = 1) and after, beside the predictor."""
    path = Path(root) / PREDICTOR_FILE
    net = load_predictor(path, temperature=1.0)
    valid = load_faces("valid", preset, Source.CELEBA)
    logits, labels = smiling_logits(net, valid.images), valid.labels
    temperature = fit_temperature(logits, labels)
    result = {"temperature": temperature, "images": len(labels), "split": "valid", "preset": preset.name,
              "nll_before": float(F.cross_entropy(logits, labels)),
              "nll_after": float(F.cross_entropy(logits / temperature, labels)),
              "ece_before": expected_calibration_error(logits, labels),
              "ece_after": expected_calibration_error(logits / temperature, labels),
              "predictor_sha256": sha256(path), "fitted": "L-BFGS with line search on the NLL, from T = 1.5"}
    write_text(calibration_path(path), json.dumps(result, indent=2))
    return result
