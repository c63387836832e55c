"""Scores of sets of images: the K-th best, as the paper's Top-K curves and reference lines use it.

Why: every result is compared Top-K with Top-K: the K-th best score of the queries against the K-th best of
the restricted training set, never against its maximum (an outlier on the class boundary).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import t as student_t
from scipy.stats import ttest_rel


def kth_best(scores: np.ndarray, k: int) -> float:
    """The K-th highest score (the min(K, N)-th while fewer than K scores exist)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("kth_best needs at least one score")
    k = min(k, scores.size)
    return float(np.partition(scores, -k)[-k])


def topk_curve(scores, codes, k: int) -> np.ndarray:
    """TopK(q) for q = 1..n: the K-th best score among the *unique* codes queried up to q (the paper's definition).

    A code queried again adds no new point; while fewer than K unique points exist, the min(K, count)-th best.
    """
    first = _first_occurrences(codes)
    curve, unique = np.empty(len(first)), []
    for q, score in enumerate(np.asarray(scores, dtype=np.float64)):
        if first[q]:
            unique.append(score)
        curve[q] = kth_best(unique, k)
    return curve


def mean_std(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of curves of equal length."""
    stacked = np.stack([np.asarray(c, dtype=np.float64) for c in curves])
    return stacked.mean(axis=0), stacked.std(axis=0)


def unique_scores(scores, codes) -> np.ndarray:
    """The scores of the first occurrence of each distinct code."""
    return np.asarray(scores, dtype=np.float64)[_first_occurrences(codes)]


def _first_occurrences(codes) -> np.ndarray:
    seen: set[bytes] = set()
    first = []
    for code in codes:
        code = np.asarray(code)  # integer code grids (VQ-VAE) or float latents (VAE), compared exactly
        key = (code.astype(np.int64) if code.dtype.kind in "iu" else code.astype(np.float64)).tobytes()
        first.append(key not in seen)
        seen.add(key)
    return np.array(first, dtype=bool)


TOP_KS = (10, 50)
TIME_KEYS = ("fit_s", "solve_s", "decode_score_s", "retrain_s")


def _topk(values: np.ndarray) -> dict | None:
    """Top10, Top50 and the best of a set of scores; None for an empty set."""
    if not len(values):
        return None
    return {**{f"top{k}": kth_best(values, k) for k in TOP_KS}, "best": float(np.max(values))}


def seed_summary(records: list[dict], realism: dict | None = None) -> dict:
    """Top10, Top50 and the best of one seed's unique queries, by the oracle and by the judge, and time per query.

    With `realism` (per query: "passed" and the re-render's "true_degree"), also the fraction of queries that pass,
    the same figures over the unique queries that pass ("valid"), and the Top-K of the re-renders' true degrees.
    """
    codes = [r["code"] for r in records]
    first = _first_occurrences(codes)
    out: dict = {"queries": len(records)}
    for scorer, key in (("oracle", "score"), ("judge", "judge")):
        values = [r[key] for r in records]
        if any(v is None for v in values):
            continue
        out[scorer] = _topk(np.asarray(values, dtype=np.float64)[first])
    if realism is not None:
        passed = np.asarray(realism["passed"], dtype=bool)
        true_degree = np.asarray(realism["true_degree"], dtype=np.float64)
        out["realism"] = {"pass_fraction": float(passed.mean()),
                          "valid_oracle": _topk(np.array([r["score"] for r in records])[first & passed]),
                          "true_degree": _topk(true_degree[first]),
                          "valid_true_degree": _topk(true_degree[first & passed])}
        if "judge" in out:
            out["realism"]["valid_judge"] = _topk(np.array([r["judge"] for r in records])[first & passed])
    out["unique"] = int(first.sum())
    out["seconds_per_query"] = {k: float(np.mean([r["times"][k] for r in records])) for k in TIME_KEYS}
    out["solver_statuses"] = sorted({r["status"] for r in records})
    return out


def interval(values) -> dict:
    """Mean, standard deviation and the half-width of the 95% confidence interval of the mean (Student's t) of the
    numbers given (None skipped), and how many there were."""
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(x):
        return {"mean": None, "std": None, "ci95": None, "n": 0}
    half = float(student_t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else None
    return {"mean": float(x.mean()), "std": float(x.std()), "ci95": half, "n": len(x)}


def aggregate(per_seed: dict) -> dict:
    """Mean, standard deviation and 95% confidence interval over seeds of every figure in `seed_summary` outputs."""
    seeds = list(per_seed.values())
    out: dict = {}
    for scorer in ("oracle", "judge"):
        if all(scorer in s for s in seeds):
            out[scorer] = {key: interval([s[scorer][key] for s in seeds]) for key in seeds[0][scorer]}
    if all("realism" in s for s in seeds):
        out["realism"] = {"pass_fraction": interval([s["realism"]["pass_fraction"] for s in seeds])}
        for part in ("valid_oracle", "valid_judge", "true_degree", "valid_true_degree"):
            if part in seeds[0]["realism"]:
                out["realism"][part] = {key: interval([(s["realism"][part] or {}).get(key) for s in seeds])
                                        for key in ("top10", "top50", "best")}
    out["seconds_per_query"] = {k: float(np.mean([s["seconds_per_query"][k] for s in seeds])) for k in TIME_KEYS}
    return out


def curves(records_by_seed: dict, k: int, key: str = "score") -> list[np.ndarray]:
    """The TopK curve of every seed."""
    return [topk_curve([r[key] for r in recs], [r["code"] for r in recs], k) for recs in records_by_seed.values()]


def best_unique(records: list[dict], n: int) -> list[int]:
    """Indices of the n best-scoring queries (oracle), each code counted once."""
    seen, order = set(), []
    for i in np.argsort([-r["score"] for r in records], kind="stable"):
        key = np.asarray(records[i]["code"]).tobytes()
        if key not in seen:
            seen.add(key)
            order.append(int(i))
    return order[:n]


def near_duplicates(images, rms: float = 0.02) -> int:
    """How many images repeat an earlier one within an RMS pixel difference of `rms` (on a 0-1 scale).

    Why: Top-K counts unique *latent points*; a continuous latent never repeats exactly, so near-identical decoded
    faces count as new points there. This tells how many queries showed nothing new.
    """
    x = torch.as_tensor(images).float().flatten(1)
    x = x / 255.0 if torch.as_tensor(images).dtype == torch.uint8 else x
    d = torch.cdist(x, x) / x.shape[1] ** 0.5
    return int(torch.triu(d < rms, diagonal=1).any(dim=0).sum())


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
