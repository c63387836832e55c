"""The floor of the comparison: t cells of a training code, drawn at random, each set to a random code.

Why: an optimiser is only worth its cost if it beats changing the same number of cells blindly.
"""

from __future__ import annotations

import numpy as np

from ..surrogates.trees import N_VALUES
from .base import Proposal


class RandomProposer:
    name = "random"

    def __init__(self, free_cells: int, seed: int):
        self.free_cells, self.seed = free_cells, seed

    def propose(self, q: int, latents: np.ndarray, labels: np.ndarray, base: np.ndarray) -> Proposal:
        rng = np.random.default_rng([self.seed, q, 1])
        cells = np.sort(rng.choice(base.size, self.free_cells, replace=False))
        code = base.copy()
        code[cells] = rng.integers(0, N_VALUES, size=self.free_cells)
        return Proposal(latent=code, fit_s=0.0, solve_s=0.0,
                        record={"free": cells.tolist(), "surrogate": None, "objective": None, "status": "random",
                                "gap": None, "solver": "random", "n_vars": 0, "message": ""})
