"""What the loop asks of an optimiser: the `Proposer` protocol and the `Proposal` it returns.

Why: the paper's query (trees + MIO over the t most important cells), the floor (t random cells) and the continuous
baseline (DNGO + SLSQP in a VAE's latent space) are three ways to answer one question: given the data's latent points
and their labels, and a training point to start from, which latent point should the black box see next?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Proposal:
    """A proposed latent point, the fields it adds to the query's record, and the seconds spent fitting and solving."""

    latent: np.ndarray  # (64,) code indices, or the continuous latent
    record: dict  # free, surrogate, objective, status, gap, solver, n_vars, message (and a proposer's own fields)
    fit_s: float
    solve_s: float


class Proposer(Protocol):
    name: str

    def propose(self, q: int, latents: np.ndarray, labels: np.ndarray, base: np.ndarray) -> Proposal:
        """The q-th query, from all data's latent points (N, d) and surrogate labels (N,), starting at `base` (d,)."""
