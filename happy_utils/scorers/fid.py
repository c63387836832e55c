"""FID: how close generated faces are to the unseen happy faces, with the feature extractor named in every result.

Why: the paper reports FID (Heusel et al.) between all generated images and the CelebA faces of smile degree 3-5, and
against each degree alone (its Figure 3b). FID needs InceptionV3's weights, which pytorch-fid downloads; where they
are absent (offline, as on the project machine) the Frechet distance is computed by pytorch-fid's own
`calculate_frechet_distance` on the features of a network that is present: the judge's (synthetic world) or the
Talk-to-Edit predictor's shared layer (CelebA). Those numbers are comparable between variants, not with published FIDs,
so the extractor's name travels with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from ..config import device as default_device
from ..images import as_float


def inception_weights() -> Path:
    """Where pytorch-fid's InceptionV3 weights are cached (torch hub's checkpoints folder)."""
    from pytorch_fid.inception import FID_WEIGHTS_URL

    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_URL.rsplit("/", 1)[-1]


class Features:
    """A named feature extractor: images (N, 3, 64, 64), uint8 or float in [0, 1] -> features (N, d)."""

    def __init__(self, name: str, net: torch.nn.Module, embed, batch_size: int = 200):
        self.name, self.net, self.embed, self.batch_size = name, net, embed, batch_size

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self.net.eval()
        dev = next(self.net.parameters()).device
        out = [self.embed(as_float(b).to(dev)).flatten(1).double().cpu() for b in images.split(self.batch_size)]
        return torch.cat(out).numpy()


def features(scorers: dict, prefer_inception: bool = True) -> Features:
    """InceptionV3 (pool3, 2048) where its weights are cached; else the judge's or, on CelebA, the predictor's."""
    if prefer_inception and inception_weights().exists():
        from pytorch_fid.inception import InceptionV3

        net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).to(default_device())
        return Features("InceptionV3 pool3 (pytorch-fid)", net, lambda x: net(x)[0])
    if "judge" in scorers:
        return Features("judge features (InceptionV3 weights absent)", scorers["judge"], scorers["judge"].embed)
    oracle = scorers["oracle"]
    if not hasattr(oracle, "embed"):
        raise ValueError("no FID features: InceptionV3's weights are not cached and there is no judge; run "
                         "`python -c 'from pytorch_fid.inception import InceptionV3; InceptionV3()'` once online")
    return Features("Talk-to-Edit predictor features (InceptionV3 weights absent)", oracle, oracle.embed)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two feature sets (pytorch-fid's formula)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {len(a)} and {len(b)}")
    return float(calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)))


def fid_table(generated: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], extractor: Features
              ) -> dict[str, dict[str, float]]:
    """FID of every generated set against every target set: {generated name: {target name: FID}}."""
    target_features = {name: extractor(images) for name, images in targets.items()}
    return {name: {t: frechet(extractor(images), f) for t, f in target_features.items()}
            for name, images in generated.items()}
