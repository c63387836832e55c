import json

import pytest

from happy_utils.__main__ import main


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_bench_data_prints_a_table_and_json(capsys):
    main(["bench", "data", "--n", "256", "--json"])
    result = _last_json(capsys)
    assert result["bench"] == "data" and result["images_per_s"] > 0
    variants = [r["variant"] for r in result["rows"]]
    assert len(variants) >= 5 and any("(default)" in v for v in variants)
    main(["bench", "data", "--n", "256"])
    assert "images_per_s" in capsys.readouterr().out


def test_eval_oracle_json(capsys):
    main(["eval-oracle", "--seed", "31337", "--n", "200", "--json"])
    result = _last_json(capsys)
    assert set(result) == {"oracle", "judge"}
    assert set(result["oracle"]) == {"exact_acc", "within_one_acc", "mae"}


def test_eval_oracle_on_a_training_seed_exits_with_a_message(capsys):
    with pytest.raises(SystemExit, match="was used to train the oracle"):
        main(["eval-oracle", "--seed", "1000", "--n", "10"])


def test_run_smoke_writes_summary_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", "--preset", "smoke", "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["faces"]["train"] == 1200
    assert summary["faces"]["restricted"] + summary["faces"]["target"] == 1200
    assert set(summary["timings_s"]) == {"data", "oracle", "vqvae", "surrogate"}
    probe = summary["surrogate"]["probe_queries"]
    assert probe["n"] == 20 and 0 <= probe["score_rose"] <= 20 and probe["statuses"] == ["optimal"]
    assert summary["vqvae"]["held_out_restricted"]["codes_used"] > 0
    assert 0 < summary["restricted_reference"]["reconstructed"]["judge"]["top10"] <= 5
    ref = summary["restricted_reference"]["raw"]["oracle"]
    assert 0 < ref["top50"] <= ref["top10"] <= 5
    for name in ("faces_by_degree", "restricted_degrees", "restricted_ingredients", "calibration", "vqvae_loss",
                 "vqvae_reconstructions", "vqvae_codebook", "surrogate_parity", "surrogate_importance",
                 "probe_queries"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert json.loads((out / "config.json").read_text())["preset"]["name"] == "smoke"


def test_unknown_preset_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--preset", "giant"])
    assert "invalid choice" in capsys.readouterr().err
