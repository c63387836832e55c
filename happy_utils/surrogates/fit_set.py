"""Which data a surrogate is fitted on: all of it, or the authors' n best + n random points of each cycle.

Why: the authors fit their surrogates on the 2,000 best and 8,000 random points of the data, drawn afresh at the start
of every retraining cycle; the queries of the cycle join that set as they come in. On CelebA the restricted set holds
about 100,000 faces, so fitting 800 trees on all of it at every query would be the slowest part of the loop.
"""

from __future__ import annotations

import numpy as np


def best_and_random(labels: np.ndarray, n_best: int, n_random: int, seed) -> np.ndarray:
    """Sorted indices of the n_best highest labels and n_random others drawn at random (all, if there are fewer)."""
    labels = np.asarray(labels)
    if n_best + n_random >= len(labels):
        return np.arange(len(labels))
    best = np.argsort(-labels, kind="stable")[:n_best]
    rest = np.setdiff1d(np.arange(len(labels)), best)
    chosen = np.random.default_rng(seed).choice(rest, size=n_random, replace=False)
    return np.sort(np.concatenate([best, chosen]))


def cycle_rows(q: int, per_cycle: int, labels: np.ndarray, fit_set: tuple[int, int] | None, seed: int) -> np.ndarray:
    """The rows the surrogate of query q is fitted on: the cycle's set, drawn from the data as it was when the cycle
    began (re-encoded by the cycle's fine-tune), plus the queries made since; all rows when `fit_set` is None."""
    if fit_set is None:
        return np.arange(len(labels))
    cycle, slot = divmod(q, per_cycle)
    start = len(labels) - slot  # the data's size when the cycle began
    drawn = best_and_random(labels[:start], *fit_set, seed=[seed, cycle, 2])
    return np.concatenate([drawn, np.arange(start, len(labels))])
