"""What a run's records add up to: per seed (Top-K of the unique queries, by the oracle and the judge, the valid
ones among them, time per query) and over seeds (means with intervals, pooled proportions, Fisher's test), the
curves and the best faces of the comparison's figures.

Why: the harness summarises runs the same way for `run`, `compare`, the claims and `beyond`; the statistics these
summaries are made of (the K-th best, intervals, Wilson, the paired tests) are the lesson's, in `metrics`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import fisher_exact

from ..metrics import first_occurrences, interval, kth_best, proportion, topk_curve


def mean_std(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of curves of equal length."""
    stacked = np.stack([np.asarray(c, dtype=np.float64) for c in curves])
    return stacked.mean(axis=0), stacked.std(axis=0)


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
    first = first_occurrences(codes)
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
