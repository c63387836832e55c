"""The latent objective model h(z) ~ f(d(z)): LightGBM trees over the 64 latent cells as categorical features.

Why: the paper's optimiser needs a model of the smile score that a mixed-integer program can represent exactly and
that handles 64 unordered 256-valued features: a gradient-boosted tree ensemble fitted through ENTMOOT. Its
gain-based feature importance picks the t cells that the optimiser may change. The paper's settings are 800 trees of
interaction depth 2 (the authors pass max_depth=2 and num_leaves=5) with at least 20 samples per leaf. The
categorical-split settings were tuned by held-out R^2 on the laptop preset's codes (see docs/method.md): light smoothing
(cat_smooth = cat_l2 = 5) and up to 64 categories per split beat both LightGBM's defaults and heavier smoothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from . import entmoot_compat as ec
from .holdout import holdout_split, r2_score

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


def parse_trees(booster, sign: float = -1.0) -> list:
    """LightGBM's trees as nested tuples with leaf values multiplied by `sign` (-1: entmoot fits -y to maximise).

    A parsed tree is a leaf value (float) or a split (feature, frozenset of the values that go left, left, right).
    """
    def node(d):
        if "leaf_value" in d:
            return sign * float(d["leaf_value"])
        if d.get("decision_type") != "==":
            raise ValueError(f"only categorical splits are supported, got decision_type {d.get('decision_type')!r}")
        values = frozenset(int(v) for v in str(d["threshold"]).split("||"))
        return (int(d["split_feature"]), values, node(d["left_child"]), node(d["right_child"]))

    return [node(t["tree_structure"]) for t in booster.dump_model()["tree_info"]]


def tree_value(tree, row) -> float:
    """The leaf value a row (one value per feature) reaches in a parsed tree."""
    while isinstance(tree, tuple):
        feature, values, left, right = tree
        tree = left if row[feature] in values else right
    return tree


def tree_text(tree, indent: str = "") -> str:
    """A parsed tree as indented if/else lines over cells and their value sets, for reading one."""
    if not isinstance(tree, tuple):
        return f"{indent}-> {tree:+.4f}"
    feature, values, left, right = tree
    shown = ", ".join(map(str, sorted(values)[:8])) + (", ..." if len(values) > 8 else "")
    return (f"{indent}if cell {feature} (row {feature // 8}, column {feature % 8}) in {{{shown}}}:\n"
            f"{tree_text(left, indent + '    ')}\n{indent}else:\n{tree_text(right, indent + '    ')}")


@dataclass
class TreeModel:
    """What the optimiser needs of a fitted ensemble: its trees (predicting y), sizes and the training codes."""

    trees: list
    offset: float  # constant added to every prediction (y units)
    n_features: int
    n_values: int
    value_counts: np.ndarray  # (n_features, n_values)
    train_rows: np.ndarray | None = None  # (N, n_features) ints, for the exploration term

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(rows)
        return np.array([self.offset + sum(tree_value(t, r) for t in self.trees) for r in rows])


@dataclass
class TreeSurrogate:
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

    def importance(self, kind: str = "gain") -> np.ndarray:
        """Feature importance of each latent cell, as an (8, 8) grid: by gain (the paper's), or by split count."""
        return self.booster.feature_importance(importance_type=kind).reshape(8, 8)

    def top_cells(self, free_cells: int, kind: str = "gain") -> np.ndarray:
        """The flat indices (0..63) of the `free_cells` (the paper's t) cells of highest importance, most important
        first: the cells the MIO may change (the count is checked where a `LoopConfig` is made, the cells by the
        MIO)."""
        return np.argsort(-self.importance(kind).ravel(), kind="stable")[:free_cells]


def learning_rate(n_trees: int) -> float:
    """0.05 for the paper's 800 trees; fewer trees take proportionally larger steps (400 trees: 0.1, same R^2)."""
    return min(0.2, PAPER_LGBM["learning_rate"] * PAPER_LGBM["num_boost_round"] / n_trees)


def fit_trees(codes, y, n_trees: int = 800, seed: int = 0, uncertainty: bool = False,
              **lgbm_overrides) -> TreeSurrogate:
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
    return TreeSurrogate(enting=enting, train_rows=X, params=params)


def holdout_r2(codes, y, n_trees: int = 800, holdout: float = 0.2, seed: int = 0, **lgbm_overrides
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """Held-out R^2 of a surrogate fitted on the rest; also returns the held-out scores and predictions."""
    X = check_codes(codes)
    y = np.asarray(y, dtype=np.float64).ravel()
    test, train = holdout_split(len(X), holdout, seed)
    model = fit_trees(X[train], y[train], n_trees=n_trees, seed=seed, **lgbm_overrides)
    pred = model.predict(X[test])
    return r2_score(y[test], pred), y[test], pred
