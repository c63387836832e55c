"""Scores of sets of images: the K-th best, as the paper's Top-K curves and reference lines use it, and the
statistics every comparison reports (intervals over seeds, Wilson intervals on proportions, paired tests).

Why: every result is compared Top-K with Top-K: the K-th best score of the queries against the K-th best of
the restricted training set, never against its maximum (an outlier on the class boundary). Top-K of fewer than K
scores does not exist: `kth_best` refuses it, and a table says "n/a (m valid)"; only the curve over the first
queries, drawn from query 1 on, takes the worst score while fewer than K exist, by its own name
(`kth_best_or_worst`), and its legend says so.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, ttest_rel
from scipy.stats import t as student_t


def kth_best(scores: np.ndarray, k: int) -> float:
    """The K-th highest score: the Top-K of a set of at least K scores (fewer: ValueError, never the worst)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size < k:
        raise ValueError(f"Top{k} of {scores.size} scores is undefined: report it as n/a ({scores.size} scores), or "
                         f"draw a curve from query 1 with kth_best_or_worst (the worst score while fewer than {k})")
    return float(np.partition(scores, -k)[-k])


def kth_best_or_worst(scores: np.ndarray, k: int) -> float:
    """Figure 3's curve convention: the K-th highest score, or the lowest while fewer than K scores exist (so that a
    Top-K curve starts at query 1). Not a Top-K of a set: use `kth_best` for that."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("kth_best_or_worst needs at least one score")
    return kth_best(scores, min(k, scores.size))


#: What a Top-K curve shows while fewer than K queries exist: said in every curve's legend.
CURVE_CONVENTION = "curves: the K-th best so far, the worst while fewer than K (Figure 3)"


def topk_curve(scores, codes, k: int) -> np.ndarray:
    """TopK(q) for q = 1..n: the K-th best score among the *unique* codes queried up to q (the paper's definition).

    A code queried again adds no new point; while fewer than K unique points exist, the worst of them
    (`kth_best_or_worst`: Figure 3's convention, said in the curves' legends).
    """
    first = first_occurrences(codes)
    curve, unique = np.empty(len(first)), []
    for q, score in enumerate(np.asarray(scores, dtype=np.float64)):
        if first[q]:
            unique.append(score)
        curve[q] = kth_best_or_worst(unique, k)
    return curve


def unique_scores(scores, codes) -> np.ndarray:
    """The scores of the first occurrence of each distinct code."""
    return np.asarray(scores, dtype=np.float64)[first_occurrences(codes)]


def first_occurrences(codes) -> np.ndarray:
    """Per code, whether it is the first of its kind: Top-K counts each distinct code once."""
    seen: set[bytes] = set()
    first = []
    for code in codes:
        code = np.asarray(code)  # integer code grids (VQ-VAE) or float latents (VAE), compared exactly
        key = (code.astype(np.int64) if code.dtype.kind in "iu" else code.astype(np.float64)).tobytes()
        first.append(key not in seen)
        seen.add(key)
    return np.array(first, dtype=bool)


def interval(values) -> dict:
    """Mean, standard deviation and the half-width of the 95% confidence interval of the mean (Student's t) of the
    numbers given (None skipped), and how many there were."""
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(x):
        return {"mean": None, "std": None, "ci95": None, "n": 0}
    half = float(student_t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else None
    return {"mean": float(x.mean()), "std": float(x.std()), "ci95": half, "n": len(x)}


def proportion(successes: int, n: int) -> dict:
    """A pooled proportion with its Wilson 95% interval [low, high] (inside [0, 1] even at 0 or n successes)."""
    low, high = wilson(successes, n)
    return {"count": int(successes), "n": int(n), "fraction": successes / n if n else None, "wilson95": [low, high]}


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson's score interval for a binomial proportion (Wilson 1927; Newcombe 1998, method 3; scipy's): unlike the
    normal (or a t over seeds) interval it stays inside [0, 1] and keeps its coverage near 0 and 1."""
    if n == 0:
        return None, None
    if not 0 <= successes <= n:
        raise ValueError(f"wilson: {successes} successes of {n} trials")
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def sign_flip_p(differences) -> float:
    """The exact two-sided p-value of the paired sign-flip (permutation) test that the mean difference is 0: the
    fraction of the 2^n sign patterns whose |mean| is at least the observed one. Distribution-free; with 5 seeds its
    smallest possible value is 2/32 = 0.0625."""
    d = np.asarray(differences, dtype=np.float64)
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * len(d))).reshape(len(d), -1).T
    observed = abs(d.mean())
    return float(np.mean(np.abs(signs @ d / len(d)) >= observed - 1e-12))


def paired_difference(a, b) -> dict:
    """A minus B over paired seeds: the mean difference with its 95% confidence interval (Student's t), the paired
    t-test's p-value, the exact sign-flip p-value, and how many seeds A won."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"paired_difference needs two equally long lists of >= 2 paired values, got {a.shape}, "
                         f"{b.shape}")
    d = a - b
    test = ttest_rel(a, b)  # nan when every difference is the same
    p_t = None if np.isnan(test.pvalue) else float(test.pvalue)
    return {**interval(d), "t": None if p_t is None else float(test.statistic), "p_t": p_t,
            "p_sign_flip": sign_flip_p(d), "wins": int((d > 0).sum()), "ties": int((d == 0).sum()),
            "differences": d.tolist()}
