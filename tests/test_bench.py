import pytest

from happy_utils.experiments.bench import _loop_stages


def _record(retrain=None, encoded_s=0.0):
    return {"times": {"fit_s": 1.0, "solve_s": 0.1, "decode_score_s": 0.01, "retrain_s": retrain["seconds"] if retrain
                      else encoded_s}, "retrain": retrain}


def test_bench_loop_projects_the_first_fine_tune_once_and_later_ones_every_r_queries():
    first, later = {"seconds": 100.0, "finetune_s": 90.0}, {"seconds": 12.0, "finetune_s": 8.0}
    records = [_record(first)] + [_record() for _ in range(4)] + [_record(later)] + [_record() for _ in range(4)]
    records[7] = _record(encoded_s=0.5)  # a base row read after its cycle began, encoded then
    rows = {r["stage"].split(" (")[0]: r for r in _loop_stages(records, budget=100, every=5)}
    assert rows["fit"]["projected"] == rows["fit"]["measured"] == 1.0
    assert rows["fine-tune"]["measured"] == pytest.approx((90 + 8) / 10)
    assert rows["fine-tune"]["projected"] == pytest.approx((90 + 19 * 8) / 100)  # 20 cycles: the first and 19 later
    assert rows["re-encode"]["projected"] == pytest.approx((10 + 19 * 4) / 100 + 0.5 / 10)
    assert rows["re-encode"]["measured"] == pytest.approx((10 + 4 + 0.5) / 10)
    assert rows["total"]["projected"] == pytest.approx(1.11 + 2.42 + 0.86 + 0.05, abs=1e-3)
    with pytest.raises(ValueError, match="more than r = 5"):  # one fine-tune: nothing to project later cycles from
        _loop_stages(records[:5], budget=100, every=5)


def test_bench_stages_costs_a_seed_from_the_unit_costs_at_a_presets_sizes(capsys):
    import json

    from happy_utils.experiments.cli import main

    main(["bench", "stages", "--preset", "smoke", "--n", "1200", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {r["stage"].split(" (")[0]: r["seconds"] for r in out["rows"]}
    assert "first fine-tune, 1 epoch (75 steps)" in [r["stage"] for r in out["rows"]]  # 1,200 faces in batches of 16
    assert rows["first fine-tune, 1 epoch"] == pytest.approx(75 * out["finetune_s_per_step"], rel=0.01, abs=0.1)
    assert rows["MIO"] == pytest.approx(6 * out["solve_s"], rel=0.01, abs=0.02)  # the smoke budget: 6 queries
    assert rows["total"] == pytest.approx(sum(v for k, v in rows.items() if k != "total"), abs=0.2)


def test_bench_stages_counts_the_vqvaes_floating_point_work_per_query(capsys):
    import json

    from happy_utils.experiments.cli import main

    main(["bench", "stages", "--preset", "smoke", "--n", "1200", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    steps = sum(r.get("steps", 0) for r in out["rows"])
    encoded = sum(r.get("encoded", 0) for r in out["rows"])
    assert steps == 75 + 1 * 8 and encoded == 2 * 503  # 6 queries, r = 3: two cycles; fit set 200 + 300, + r
    per_query = (steps * out["gflop_per_step"] + encoded * out["gflop_per_encode"]) / 6
    assert out["vqvae_gflop_per_query"] == pytest.approx(per_query, rel=0.02, abs=0.1)
    # a step is the encoder's and the decoder's forward pass over a batch of 16 and its backward pass: about 3 x 2
    # encoder passes per face (torch counts 5.1 at the smoke width)
    assert 3 < out["gflop_per_step"] / (16 * out["gflop_per_encode"]) < 8


def test_bench_mio_times_each_guard_beside_the_unguarded_program(capsys):
    from happy_utils.experiments.bench import BENCH_GUARDS, bench_mio

    result = bench_mio(n=600, draws=2, free_cells=4)
    assert result["optima_agree"]
    rows = {r["program"]: r for r in result["guarded"]}
    assert list(rows) == ["unguarded", *(name for name, _, _ in BENCH_GUARDS)]
    assert rows["compatible neighbours"]["unseen_pairs"] == 0 and rows["supported + neighbours"]["unseen_pairs"] == 0
    assert all(r["trees_value_lost"] >= -1e-9 for r in rows.values())  # a guard never finds more than the trees' max
    assert rows["pairwise prior, lambda 0.05"]["variables"] > rows["unguarded"]["variables"]
    assert "the guarded programs" in capsys.readouterr().out
