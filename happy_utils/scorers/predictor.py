"""The paper's black box on CelebA: Talk-to-Edit's attribute predictor, read out as an expected smile degree.

Why: the authors score CelebA images with the CelebA-Dialog attribute predictor of Talk-to-Edit
(`predictor_128.pth.tar`): a ResNet-50 trunk, a shared `stem` fc block (2048 -> 512) and one six-level head per
attribute, named `classifier06Bangs`, `classifier16Eyeglasses`, `classifier25No_Beard`, `classifier32Smiling` and
`classifier40Young` after their CelebA attribute numbers. The module names here match the checkpoint's keys, so it
loads strictly. A 64x64 image is upscaled bicubically to 128, normalised with ImageNet's mean and standard deviation,
and the Smiling head's logits go through softmax(logits / T) with the authors' T = 3; the expected level is f(x).
Nothing is downloaded: the ResNet is built without ImageNet weights, the checkpoint provides them all.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import device as default_device
from .base import N_LEVELS, SmileScorer

#: The heads of the checkpoint: CelebA attribute number -> CelebA-Dialog attribute.
HEADS = {6: "Bangs", 16: "Eyeglasses", 25: "No_Beard", 32: "Smiling", 40: "Young"}
INPUT_SIZE = 128
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEMPERATURE = 3.0
PREDICTOR_FILE = "predictor_128.pth.tar"
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
    """ResNet-50 -> avgpool -> stem(2048 -> 512) -> one head per attribute; `forward` gives the Smiling logits."""

    temperature = TEMPERATURE

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


def load_predictor(path: Path, dev: torch.device | None = None, temperature: float = TEMPERATURE) -> AttributePredictor:
    """Load `predictor_128.pth.tar` strictly; a missing, wrong or partial checkpoint is a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found. {WHERE}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged or foreign file: pickle, zip and torch errors alike
        raise ValueError(f"{path} is not a readable torch checkpoint ({type(err).__name__}: {err}). {WHERE}") from err
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise ValueError(f"{path} has no 'state_dict' entry: not Talk-to-Edit's predictor checkpoint. {WHERE}")
    net = AttributePredictor()
    expected, given = set(net.state_dict()), set(ckpt["state_dict"])
    missing = sorted(k for k in expected - given if not k.endswith("num_batches_tracked"))  # absent in old saves
    unexpected = sorted(given - expected)
    if missing or unexpected:
        problems = [f"{len(keys)} weights {what} (e.g. {', '.join(keys[:3])})"
                    for keys, what in ((missing, "missing"), (unexpected, "unexpected")) if keys]
        raise ValueError(f"{path} does not match the Talk-to-Edit predictor: {'; '.join(problems)}. {WHERE}")
    try:
        net.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as err:  # same names, other shapes
        raise ValueError(f"{path} has weights of the wrong shape for the Talk-to-Edit predictor: {err}") from err
    net.temperature = float(temperature)
    return net.to(dev or default_device()).eval()
