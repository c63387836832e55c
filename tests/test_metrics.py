import numpy as np
import pytest

from happy_utils.experiments.summaries import aggregate, fisher_test, near_duplicates, seed_summary
from happy_utils.metrics import kth_best, kth_best_or_worst, proportion, topk_curve, unique_scores, wilson


def test_kth_best_refuses_fewer_scores_than_k_and_the_curve_convention_has_its_own_name():
    assert kth_best([0.5, 2.0, 1.0, 3.0], 2) == 2.0
    with pytest.raises(ValueError, match="Top10 of 2 scores is undefined"):
        kth_best([0.5, 2.0], 10)  # never the worst score under the name of a Top10
    assert kth_best_or_worst([0.5, 2.0], 10) == 0.5 and kth_best_or_worst([0.5, 2.0, 1.0, 3.0], 2) == 2.0
    with pytest.raises(ValueError, match="at least one"):
        kth_best_or_worst([], 10)


def test_wilson_interval_matches_newcombes_published_values():
    """Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (the Wilson score interval)."""
    for (k, n), (low, high) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
                                (1, 29): (0.0061, 0.1718)}.items():
        got = wilson(k, n)
        assert got == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))
    assert wilson(20, 20)[1] == 1.0 and 0.83 < wilson(20, 20)[0] < 0.84  # inside [0, 1], unlike p +- t * se
    assert proportion(2, 500) == {"count": 2, "n": 500, "fraction": 0.004, "wilson95": list(wilson(2, 500))}
    assert wilson(2, 500)[0] > 0  # the t-interval of such fractions over seeds went below zero
    with pytest.raises(ValueError, match="6 successes of 5"):
        wilson(6, 5)


def test_fisher_test_compares_pooled_counts():
    same = fisher_test((17, 500), (17, 500))
    assert same["p"] == pytest.approx(1.0) and same["difference"] == 0.0
    apart = fisher_test((17, 500), (60, 500))
    assert apart["p"] < 1e-5 and apart["difference"] == pytest.approx(-43 / 500)


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
    assert s["oracle"] == {"n": 60, "top10": 50.0, "top50": 10.0, "best": 59.0, "mean": 29.5}
    assert s["judge"]["top10"] == 25.0 and s["unique"] == 60 and s["seconds_per_query"]["fit_s"] == 1.0
    agg = aggregate({0: s, 1: {**s, "oracle": {**s["oracle"], "top10": 52.0}}})
    # mean, sd and the 95% interval of the mean: t(0.975, 1 dof) = 12.706 x sample sd 1.414 / sqrt(2)
    assert agg["oracle"]["top10"] == {"mean": 51.0, "std": 1.0, "ci95": pytest.approx(12.706, rel=1e-3), "n": 2,
                                      "seeds": 2}
    short = seed_summary(recs[:30])
    assert short["oracle"]["top10"] == 20.0 and short["oracle"]["top50"] is None  # 30 queries: no Top50
    assert aggregate({0: s, 1: short})["oracle"]["top50"] == {"mean": None, "std": None, "ci95": None, "n": 1,
                                                              "seeds": 2}


def test_valid_topk_counts_only_the_queries_that_pass_realism():
    times = {"fit_s": 0.0, "solve_s": 0.0, "decode_score_s": 0.0, "retrain_s": 0.0}
    recs = [{"code": [i % 25], "score": float(i), "judge": None, "times": times, "status": "optimal"}
            for i in range(30)]  # queries 25-29 repeat earlier codes: not new points
    passed = [i % 2 == 0 for i in range(30)]
    s = seed_summary(recs, {"passed": passed, "true_degree": [i / 10 for i in range(30)]})
    assert s["realism"]["pass_fraction"] == 0.5 and s["realism"]["passed"] == 15
    # 13 unique passing queries: 0, 2, ..., 24; their 10th best is 6; no Top50 of 13
    assert s["realism"]["valid_oracle"] == {"n": 13, "top10": 6.0, "top50": None, "best": 24.0, "mean": 12.0}
    assert s["realism"]["valid_true_degree"]["best"] == pytest.approx(2.4) and "judge" not in s
    assert s["realism"]["reading_any"]["best"] == pytest.approx(2.4) and s["realism"]["reading_any"]["n"] == 25
    none = seed_summary(recs, {"passed": [False] * 30, "true_degree": [0.0] * 30})
    assert none["realism"]["valid_oracle"] == {"n": 0, "top10": None, "top50": None, "best": None, "mean": None}
    agg = aggregate({0: s, 1: none})
    assert agg["realism"]["valid_oracle"]["top10"] == {"mean": None, "std": None, "ci95": None, "n": 1, "seeds": 2}
    assert agg["realism"]["valid_per_seed"] == [13, 0]
    assert agg["realism"]["pass"] == proportion(15, 60)


def test_a_seed_with_three_valid_queries_reports_no_valid_top10_and_the_table_says_how_many_passed():
    from happy_utils.experiments.claims_report import valid_table

    times = {"fit_s": 0.0, "solve_s": 0.0, "decode_score_s": 0.0, "retrain_s": 0.0}
    recs = [{"code": [i], "score": float(i), "judge": None, "times": times, "status": "optimal"} for i in range(40)]
    realism = {s: {"passed": [i < n for i in range(40)], "true_degree": [2.0] * 40} for s, n in ((0, 3), (1, 25))}
    per_seed = {s: seed_summary(recs, realism[s]) for s in (0, 1)}
    assert per_seed[0]["realism"]["valid_oracle"]["top10"] is None  # 3 valid: not their worst (0.0), n/a
    assert per_seed[1]["realism"]["valid_oracle"]["top10"] == 15.0
    agg = aggregate(per_seed)
    assert agg["realism"]["valid_oracle"]["top10"]["mean"] is None  # not the mean of seed 1's alone
    assert agg["realism"]["valid_oracle"]["best"]["mean"] == pytest.approx(13.0)  # 2 and 24
    row = {"realism": agg["realism"], "control": None}
    line = next(x for x in valid_table({"variants": {"v": row}, "training_set": {"realism": {"pass": None}}})
                .splitlines() if x.startswith("| `v`"))
    assert "| 28 of 80: 35.0% [" in line and "| 3, 25 | n/a (3, 25 valid) |" in line


def test_near_duplicates_counts_images_that_repeat_an_earlier_one():
    import torch


    base = torch.rand(3, 3, 8, 8)
    images = torch.cat([base, base[1:2] + 0.001, base[2:3]])  # two repeats: one nearly, one exactly
    assert near_duplicates(images) == 2
    assert near_duplicates((images * 255).to(torch.uint8)) == 2
    assert near_duplicates(base) == 0
