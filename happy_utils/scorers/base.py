"""The black-box objective's interface: images -> expected smile degree in [0, 5], for every data source.

Why: the method treats the smile scorer f as a black box that it may only query. Every scorer (the synthetic world's
oracle and judge, Talk-to-Edit's CelebA predictor) maps images to six smile-level logits and reads out the expected
degree f(x) = softmax(logits / T) . [0, 1, 2, 3, 4, 5], as the paper's CelebA predictor does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..images import as_float, check_images

N_LEVELS = 6
LEVELS = torch.arange(N_LEVELS, dtype=torch.float32)


@dataclass
class SmileScores:
    """What a scorer returns for N images."""

    degree: torch.Tensor  # (N,) expected degree in [0, 5]
    probs: torch.Tensor  # (N, 6) class probabilities

    @property
    def level(self) -> torch.Tensor:
        """The most probable smile level."""
        return self.probs.argmax(dim=1)


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


def oracle_metrics(scores: SmileScores, labels: torch.Tensor, degree: torch.Tensor) -> dict[str, float]:
    """Exact-class and within-one-class accuracy of the most probable level, and MAE of the expected degree to s."""
    level = scores.level
    return {
        "exact_acc": float((level == labels).float().mean()),
        "within_one_acc": float(((level - labels).abs() <= 1).float().mean()),
        "mae": float((scores.degree - degree).abs().mean()),
    }
