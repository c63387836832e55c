"""How well a surrogate predicts what it was not fitted on: one held-out split and R^2 for every surrogate.

Why: the trees (discrete latents) and DNGO (continuous latents) are compared by the same held-out R^2 on the same
kind of split, so neither number flatters its model.
"""

from __future__ import annotations

import numpy as np


def holdout_split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (test, train) of a seeded random split that holds out a fraction `holdout` (at least one) of n."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(holdout * n)))
    return order[:n_test], order[n_test:]


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination; NaN when the true scores do not vary (nothing to explain)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / total) if total > 0 else float("nan")
