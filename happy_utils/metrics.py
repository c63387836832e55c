"""Scores of sets of images: the K-th best, as the paper's Top-K curves and reference lines use it.

Why: every result is compared Top-K with Top-K (DESIGN 5): the K-th best score of the queries against the K-th best of
the restricted training set, never against its maximum (an outlier on the class boundary).
"""

from __future__ import annotations

import numpy as np


def kth_best(scores: np.ndarray, k: int) -> float:
    """The K-th highest score (the min(K, N)-th while fewer than K scores exist)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("kth_best needs at least one score")
    k = min(k, scores.size)
    return float(np.partition(scores, -k)[-k])
