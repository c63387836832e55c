"""The latent objective model h(z) ~ f(d(z)): LightGBM trees over the 64 latent cells as categorical features.

Why: the paper's optimiser needs a model of the smile score that a mixed-integer program can represent exactly and
that handles 64 unordered 256-valued features: a gradient-boosted tree ensemble fitted through ENTMOOT. Its
gain-based feature importance picks the t cells that the optimiser may change. The paper's settings are 800 trees of
interaction depth 2 (the authors pass max_depth=2 and num_leaves=5) with at least 20 samples per leaf. The
categorical-split settings were tuned by held-out R^2 on the laptop preset's codes (see README): light smoothing
(cat_smooth = cat_l2 = 5) and up to 64 categories per split beat both LightGBM's defaults and heavier smoothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from . import entmoot_compat as ec
from .mio import TreeModel, parse_trees

LATENT_CELLS = 64
N_VALUES = 256

#: The paper's settings (800 trees, depth 2, <= 5 leaves, >= 20 samples per leaf) and the tuned categorical splits.
#: With fewer trees (a smaller preset) the learning rate grows in proportion, up to 0.2: see `learning_rate`.
PAPER_LGBM = {
    "num_boost_round": 800, "max_depth": 2, "num_leaves": 5, "min_data_in_leaf": 20,
    "learning_rate": 0.05, "cat_smooth": 5.0, "cat_l2": 5.0, "min_data_per_group": 50, "max_cat_threshold": 64,
    "objective": "regression", "verbose": -1,
}


def check_codes(codes, name: str = "codes") -> np.ndarray:
    """Code grids (N, 8, 8) or flat rows (N, 64) of integers in 0..255, as an int64 array (N, 64)."""
    arr = codes.cpu().numpy() if torch.is_tensor(codes) else np.asarray(codes)
    if arr.ndim == 3 and arr.shape[1:] == (8, 8):
        arr = arr.reshape(len(arr), LATENT_CELLS)
    if arr.ndim != 2 or arr.shape[1] != LATENT_CELLS:
        raise ValueError(f"{name} must have shape (N, 8, 8) or (N, 64), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer code indices, got {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= N_VALUES):
        raise ValueError(f"{name} must lie in 0..{N_VALUES - 1}, got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


@dataclass
class Surrogate:
    """A fitted tree ensemble over latent codes, with what the optimiser needs to know about it."""

    enting: object
    train_rows: np.ndarray  # (N, 64) the training codes, flat
    params: dict = field(default_factory=dict)

    @property
    def booster(self):
        return ec.booster(self.enting)

    def predict(self, codes) -> np.ndarray:
        """h(z) for code grids (N, 8, 8) or rows (N, 64)."""
        X = check_codes(codes)
        return -self.booster.predict(X.astype(np.float64))  # the booster was fitted on -y (a maximisation)

    @functools.cached_property
    def tree_model(self) -> TreeModel:
        """The trees as the optimiser reads them (predicting y, not entmoot's -y)."""
        counts = np.stack([np.bincount(self.train_rows[:, c], minlength=N_VALUES) for c in range(LATENT_CELLS)])
        return TreeModel(trees=parse_trees(self.booster), offset=0.0, n_features=LATENT_CELLS, n_values=N_VALUES,
                         value_counts=counts, train_rows=self.train_rows)

    def importance(self) -> np.ndarray:
        """Gain-based feature importance of each latent cell, as an (8, 8) grid."""
        return self.booster.feature_importance(importance_type="gain").reshape(8, 8)

    def top_cells(self, t: int) -> np.ndarray:
        """The flat indices (0..63) of the t cells of highest importance, most important first."""
        if not isinstance(t, (int, np.integer)) or not 1 <= t <= LATENT_CELLS:
            raise ValueError(f"t (the number of free cells) must be an integer in 1..{LATENT_CELLS}, got {t!r}")
        return np.argsort(-self.importance().ravel(), kind="stable")[:t]


def learning_rate(n_trees: int) -> float:
    """0.05 for the paper's 800 trees; fewer trees take proportionally larger steps (400 trees: 0.1, same R^2)."""
    return min(0.2, PAPER_LGBM["learning_rate"] * PAPER_LGBM["num_boost_round"] / n_trees)


def fit_surrogate(codes, y, n_trees: int = 800, seed: int = 0, uncertainty: bool = False,
                  **lgbm_overrides) -> Surrogate:
    """Fit h on code grids and their scores, through ENTMOOT's `Enting`."""
    X = check_codes(codes)
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(y) != len(X) or not np.all(np.isfinite(y)):
        raise ValueError(f"scores must be {len(X)} finite numbers, got {len(y)}")
    if len(X) < 2 * PAPER_LGBM["min_data_in_leaf"]:
        raise ValueError(f"at least {2 * PAPER_LGBM['min_data_in_leaf']} training codes are needed, got {len(X)}")
    params = {**PAPER_LGBM, "num_boost_round": n_trees, "learning_rate": learning_rate(n_trees), "seed": seed,
              "num_threads": 0, "deterministic": True, **lgbm_overrides}
    problem = ec.categorical_problem(LATENT_CELLS, N_VALUES)
    enting = ec.make_enting(problem, params)
    ec.fit_enting(enting, X, y, uncertainty=uncertainty)
    ec.drop_single_leaf_trees(enting)
    return Surrogate(enting=enting, train_rows=X, params=params)


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination; NaN when the true scores do not vary (nothing to explain)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / total) if total > 0 else float("nan")


def holdout_r2(codes, y, n_trees: int = 800, holdout: float = 0.2, seed: int = 0, **lgbm_overrides
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """Held-out R^2 of a surrogate fitted on the rest; also returns the held-out scores and predictions."""
    X = check_codes(codes)
    y = np.asarray(y, dtype=np.float64).ravel()
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, int(round(holdout * len(X))))
    test, train = order[:n_test], order[n_test:]
    model = fit_surrogate(X[train], y[train], n_trees=n_trees, seed=seed, **lgbm_overrides)
    pred = model.predict(X[test])
    return r2_score(y[test], pred), y[test], pred
