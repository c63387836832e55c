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
import torch
from scipy.stats import binomtest, fisher_exact, ttest_rel
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
    first = _first_occurrences(codes)
    curve, unique = np.empty(len(first)), []
    for q, score in enumerate(np.asarray(scores, dtype=np.float64)):
        if first[q]:
            unique.append(score)
        curve[q] = kth_best_or_worst(unique, k)
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
#: What `topk_summary` gives of a set of scores, besides its size.
SUMMARY_KEYS = tuple(f"top{k}" for k in TOP_KS) + ("best", "mean")
TIME_KEYS = ("fit_s", "solve_s", "decode_score_s", "retrain_s")


def topk_summary(values: np.ndarray) -> dict:
    """Top10, Top50, the best and the mean of a set of scores, and how many there are (n). A Top-K of fewer than K
    scores is None (n/a), as are the best and the mean of an empty set."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n = int(values.size)
    return {"n": n, **{f"top{k}": kth_best(values, k) if n >= k else None for k in TOP_KS},
            "best": float(values.max()) if n else None, "mean": float(values.mean()) if n else None}


def seed_summary(records: list[dict], realism: dict | None = None) -> dict:
    """Top10, Top50 and the best of one seed's unique queries, by the oracle and by the judge, and time per query.

    With `realism` (per query: "passed" and the re-render's "true_degree"), also how many queries pass and their
    fraction, the same figures over the unique queries that pass ("valid", their Top-K n/a when fewer than K pass),
    the true degree of the valid ones, and the inverse network's reading of every query ("reading_any": for a query
    that fails realism the re-render does not explain the image, so this is a reading, not a true degree).
    """
    codes = [r["code"] for r in records]
    first = _first_occurrences(codes)
    out: dict = {"queries": len(records)}
    for scorer, key in (("oracle", "score"), ("judge", "judge")):
        values = [r[key] for r in records]
        if any(v is None for v in values):
            continue
        out[scorer] = topk_summary(np.asarray(values, dtype=np.float64)[first])
    if realism is not None:
        passed = np.asarray(realism["passed"], dtype=bool)
        true_degree = np.asarray(realism["true_degree"], dtype=np.float64)
        out["realism"] = {"passed": int(passed.sum()), "pass_fraction": float(passed.mean()),
                          "valid_oracle": topk_summary(np.array([r["score"] for r in records])[first & passed]),
                          "valid_true_degree": topk_summary(true_degree[first & passed]),
                          "reading_any": topk_summary(true_degree[first])}
        if "judge" in out:
            out["realism"]["valid_judge"] = topk_summary(np.array([r["judge"] for r in records])[first & passed])
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


def interval_of_all(values) -> dict:
    """`interval` of per-seed figures when every seed has one; else n/a (mean None), with how many seeds had one
    (`n`) of how many (`seeds`): a mean over the seeds that happen to have a figure is another quantity."""
    values = list(values)
    defined = [v for v in values if v is not None]
    if len(defined) < len(values):
        return {"mean": None, "std": None, "ci95": None, "n": len(defined), "seeds": len(values)}
    return {**interval(defined), "seeds": len(values)}


def aggregate(per_seed: dict) -> dict:
    """Over seeds, every figure of `seed_summary` outputs: a mean with its 95% interval (n/a where a seed lacks the
    figure, e.g. a valid Top10 of a seed with fewer than 10 valid queries); the realism pass counts pooled, with a
    Wilson interval; per seed, how many queries are valid."""
    seeds = list(per_seed.values())
    out: dict = {}
    for scorer in ("oracle", "judge"):
        if all(scorer in s for s in seeds):
            out[scorer] = {key: interval_of_all([s[scorer][key] for s in seeds]) for key in SUMMARY_KEYS}
    if all("realism" in s for s in seeds):
        passed, queries = sum(s["realism"]["passed"] for s in seeds), sum(s["queries"] for s in seeds)
        out["realism"] = {"pass": proportion(passed, queries),
                          "pass_fraction_per_seed": [s["realism"]["pass_fraction"] for s in seeds],
                          "valid_per_seed": [s["realism"]["valid_oracle"]["n"] for s in seeds]}
        for part in ("valid_oracle", "valid_judge", "valid_true_degree", "reading_any"):
            if part in seeds[0]["realism"]:
                out["realism"][part] = {key: interval_of_all([s["realism"][part][key] for s in seeds])
                                        for key in SUMMARY_KEYS}
    out["seconds_per_query"] = {k: float(np.mean([s["seconds_per_query"][k] for s in seeds])) for k in TIME_KEYS}
    return out


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


def fisher_test(a: tuple[int, int], b: tuple[int, int]) -> dict:
    """Fisher's exact test (two-sided) that two pooled proportions (successes, trials) are equal, with the
    difference of the fractions."""
    (sa, na), (sb, nb) = a, b
    result = fisher_exact([[sa, na - sa], [sb, nb - sb]])
    return {"a": [int(sa), int(na)], "b": [int(sb), int(nb)], "difference": sa / na - sb / nb,
            "odds_ratio": None if not np.isfinite(result.statistic) else float(result.statistic),
            "p": float(result.pvalue)}


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
