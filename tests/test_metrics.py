import pytest

import numpy as np

from happy_utils.metrics import aggregate, kth_best, near_duplicates, seed_summary, topk_curve, unique_scores


def test_kth_best():
    assert kth_best([0.5, 2.0, 1.0, 3.0], 2) == 2.0
    assert kth_best([0.5, 2.0], 10) == 0.5  # the min(K, N)-th while fewer than K
    with pytest.raises(ValueError, match="at least one"):
        kth_best([], 10)


def test_topk_curve_counts_unique_codes_only():
    codes = [[1], [2], [1], [3]]
    scores = [1.0, 3.0, 5.0, 2.0]  # the third query repeats the first code: no new point, its score is ignored
    np.testing.assert_array_equal(topk_curve(scores, codes, 2), [1.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(topk_curve(scores, codes, 1), [1.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(unique_scores(scores, codes), [1.0, 3.0, 2.0])


def test_float_latents_are_told_apart_exactly():
    latents = [[0.1, 0.2], [0.1, 0.7], [0.1, 0.2], [0.4, 0.2]]  # a VAE's: truncating to integers would merge them
    np.testing.assert_array_equal(unique_scores([1.0, 2.0, 3.0, 4.0], latents), [1.0, 2.0, 4.0])


def test_seed_summary_and_aggregate():
    times = {"fit_s": 1.0, "solve_s": 0.5, "decode_score_s": 0.1, "retrain_s": 0.0}
    recs = [{"code": [i], "score": float(i), "judge": float(i) / 2, "times": times, "status": "optimal"}
            for i in range(60)]
    s = seed_summary(recs)
    assert s["oracle"] == {"top10": 50.0, "top50": 10.0, "best": 59.0} and s["judge"]["top10"] == 25.0
    assert s["unique"] == 60 and s["seconds_per_query"]["fit_s"] == 1.0
    agg = aggregate({0: s, 1: {**s, "oracle": {"top10": 52.0, "top50": 10.0, "best": 59.0}}})
    # mean, sd and the 95% interval of the mean: t(0.975, 1 dof) = 12.706 x sample sd 1.414 / sqrt(2)
    assert agg["oracle"]["top10"] == {"mean": 51.0, "std": 1.0, "ci95": pytest.approx(12.706, rel=1e-3), "n": 2}


def test_valid_topk_counts_only_the_queries_that_pass_realism():
    times = {"fit_s": 0.0, "solve_s": 0.0, "decode_score_s": 0.0, "retrain_s": 0.0}
    recs = [{"code": [i % 15], "score": float(i), "judge": None, "times": times, "status": "optimal"}
            for i in range(20)]  # queries 15-19 repeat earlier codes: not new points
    passed = [i % 2 == 0 for i in range(20)]
    s = seed_summary(recs, {"passed": passed, "true_degree": [i / 10 for i in range(20)]})
    assert s["realism"]["pass_fraction"] == 0.5
    assert s["realism"]["valid_oracle"] == {"top10": 0.0, "top50": 0.0, "best": 14.0}  # 8 unique passing: 0..14
    assert s["realism"]["true_degree"]["best"] == pytest.approx(1.4) and "judge" not in s
    none = seed_summary(recs, {"passed": [False] * 20, "true_degree": [0.0] * 20})
    assert none["realism"]["valid_oracle"] is None
    agg = aggregate({0: s, 1: none})
    assert agg["realism"]["valid_oracle"]["top10"] == {"mean": 0.0, "std": 0.0, "ci95": None, "n": 1}


def test_near_duplicates_counts_images_that_repeat_an_earlier_one():
    import torch


    base = torch.rand(3, 3, 8, 8)
    images = torch.cat([base, base[1:2] + 0.001, base[2:3]])  # two repeats: one nearly, one exactly
    assert near_duplicates(images) == 2
    assert near_duplicates((images * 255).to(torch.uint8)) == 2
    assert near_duplicates(base) == 0
