"""Latent codes with a known structure, a workload for the optimiser's benchmarks and tests (like scikit-learn's
`make_regression`).

Why: whether the trees find the right cells and the MIO its optimum is only checkable where the answer is known; and
the MIO's speed at paper scale (800 trees over 64 cells of 256 values, thousands of codes) is measured without
training a VQ-VAE first.
"""

from __future__ import annotations

import numpy as np


def planted_codes(n: int, seed: int = 0, n_values: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes (n, 64) and scores with a known structure, for benchmarks and tests of the optimiser.

    Like VQ-VAE codes, each cell uses a skewed share of the 256 values; the score sums per-value effects of 12 cells
    (rows 4-6, 'the mouth'), adds interactions between neighbouring pairs of them, and noise.
    """
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(n_values, 0.3), size=64)
    codes = np.stack([rng.choice(n_values, size=n, p=popularity[c]) for c in range(64)], axis=1)
    cells = np.arange(32, 56, 2)
    score = np.zeros(n)
    for c in cells:
        score += rng.normal(0, 0.3, n_values)[codes[:, c]]
    for a, b in zip(cells[:-1], cells[1:]):
        score += 0.2 * (rng.normal(0, 1, n_values)[codes[:, a]] * rng.normal(0, 1, n_values)[codes[:, b]])
    return codes, score + rng.normal(0, 0.1, n)
