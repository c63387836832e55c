"""Latent space optimisation with weighted retraining (paper sections 2.2-2.3): one query at a time.

Why: a query is the unit of the method: pick a real training code, let the MIO change its t most important cells,
decode the result and ask the black box. Notebooks 04-05 and the main job all make queries through `query`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .mio import MIOResult, optimize
from .oracle import SmileScorer
from .surrogate import Surrogate
from .vqvae import VQVAE


@dataclass
class Query:
    """One query: the base code it started from, the MIO's answer, the decoded image and the black box's score."""

    base_index: int
    base_code: np.ndarray  # (8, 8)
    mio: MIOResult
    image: torch.Tensor  # (3, 64, 64) the decoded query
    base_image: torch.Tensor  # the decoded base code
    score: float  # f(d(z~))
    base_score: float  # f(d(z_r))

    @property
    def code(self) -> np.ndarray:
        return self.mio.grid

    @property
    def changed(self) -> np.ndarray:
        """(8, 8) bool: the cells whose code the optimiser changed."""
        return self.code != self.base_code


def query(vq: VQVAE, surrogate: Surrogate, codes: torch.Tensor, base_index: int, t: int, scorer: SmileScorer,
          solver: str = "highs", time_limit: float = 60.0, beta: float = 0.0) -> Query:
    """Optimise the t most important cells of training code `base_index`, decode and score the result."""
    base = codes[base_index].numpy()
    result = optimize(surrogate, base, surrogate.top_cells(t), solver=solver, time_limit=time_limit, beta=beta)
    images = vq.decode(torch.from_numpy(np.stack([base, result.grid])))
    scores = scorer.score(images).degree
    return Query(base_index=int(base_index), base_code=base, mio=result, image=images[1], base_image=images[0],
                 score=float(scores[1]), base_score=float(scores[0]))
