import json
import os
import sys
from pathlib import Path

import matplotlib
import pytest
import torch

from happy_utils.experiments import compare as compare_module
from happy_utils.experiments.cli import main
from happy_utils.experiments.variants import VARIANTS
from happy_utils.results import COMPARISON_TEXT
from happy_utils.scorers.loading import evaluate_scorers


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_bench_data_prints_a_table_and_json(capsys):
    main(["bench", "data", "--n", "256", "--json"])
    result = _last_json(capsys)
    default = [r for r in result["rows"] if "(default)" in r["variant"]]
    assert len(result["rows"]) >= 5 and len(default) == 1
    assert result["images_per_s"] == default[0]["images_per_s"]  # the headline is the default renderer's row
    assert result["meets_target"] == (result["images_per_s"] >= result["target_images_per_s"])
    main(["bench", "data", "--n", "256"])
    printed = capsys.readouterr().out
    assert all(r["variant"] in printed for r in result["rows"]) and "target >= 2000" in printed


def test_bench_celeba_times_cropping_and_the_predictor_on_each_device(capsys):
    main(["bench", "celeba", "--n", "6", "--json"])
    result = _last_json(capsys)
    assert result["devices"][0] == "cpu"
    steps = sorted((r["device"], r["step"].split(" ")[0], r["batch"]) for r in result["rows"])
    assert steps == sorted((d, s, b) for d in result["devices"] for s, b in (
        ("MTCNN", 32), ("MTCNN", 128), ("crop_photos:", 128), ("predictor", 64), ("predictor", 256)))


def test_eval_oracle_json(capsys):
    main(["eval-oracle", "--seed", "31337", "--n", "200", "--json"])
    assert _last_json(capsys) == evaluate_scorers(31337, 200)  # prints what the evaluation measures
    main(["eval-oracle", "--seed", "31337", "--n", "200"])
    printed = capsys.readouterr().out
    assert "oracle " in printed and "judge " in printed and "200 faces of seed 31337" in printed


def test_eval_oracle_on_a_training_seed_exits_with_a_message(capsys):
    with pytest.raises(SystemExit, match="was used to train the oracle"):
        main(["eval-oracle", "--seed", "1000", "--n", "10"])


def test_run_smoke_writes_summary_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", "--preset", "smoke", "--seeds", "0-1", "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["faces"]["train"] == 1200
    assert summary["faces"]["restricted"] + summary["faces"]["target"] == 1200
    assert set(summary["timings_s"]) == {"data", "oracle", "vqvae", "surrogate", "loop", "loop_seed0", "loop_seed1",
                                         "quality"}
    assert summary["vqvae"]["held_out_restricted"]["codes_used"] > 0
    ref = summary["restricted_reference"]
    assert 0 < ref["raw"]["oracle"]["top50"] <= ref["raw"]["oracle"]["top10"] <= 5
    assert 0 < ref["reconstructed"]["judge"]["top10"] <= 5 and ref["best_training_label"] == 2
    assert set(summary["per_seed"]) == {"0", "1"}
    for seed in ("0", "1"):
        s = summary["per_seed"][seed]
        # 6 queries: no Top10 of them (n/a), never their worst under that name
        assert s["queries"] == 6 and s["oracle"]["top10"] is None and s["oracle"]["n"] <= 6 and "judge" in s
        records = (out / f"seed{seed}" / "queries.jsonl").read_text().splitlines()
        assert len(records) == 6
    agg = summary["aggregate"]
    assert set(agg["seconds_per_query"]) == {"fit_s", "solve_s", "decode_score_s", "retrain_s"}
    assert agg["oracle"]["top10"]["mean"] is None and agg["oracle"]["best"]["std"] >= 0
    assert len(summary["topk_curves"]["top10"]["mean"]) == 6  # the curve's convention: the worst while fewer than 10
    # Quality: realism per seed (pass fraction, valid Top-K, true degrees) and FIDs, each extractor named.
    realism = summary["per_seed"]["0"]["realism"]
    assert 0 <= realism["pass_fraction"] <= 1 and realism["reading_any"]["mean"] <= realism["reading_any"]["best"]
    quality = summary["quality"]
    assert set(quality["extractors"]) == {"inception", "world", "smile"} and quality["realism_threshold"] > 0
    assert quality["extractors"]["inception"].startswith("InceptionV3 pool3")
    fids = quality["fid"]["inception"]["vqvae-wr"]
    assert set(fids) == {"3-5", "3", "4", "5"} and all(f > 0 for f in fids.values())
    for name in ("faces_by_degree", "restricted_degrees", "restricted_ingredients", "calibration", "vqvae_loss",
                 "vqvae_reconstructions", "vqvae_codebook", "surrogate_parity", "surrogate_importance",
                 "topk_curves", "best_queries"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert json.loads((out / "config.json").read_text())["preset"]["name"] == "smoke"
    assert "seconds per query" in capsys.readouterr().out

    # The same directory with other settings is refused and left as it was; the same settings resume (no work).
    before = (out / "seed0" / "queries.jsonl").read_text()
    with pytest.raises(SystemExit, match="variant: 'vqvae-wr' in the directory, 'vqvae-nowr' now"):
        main(["run", "--preset", "smoke", "--seeds", "0-1", "--out", str(out), "--variant", "vqvae-nowr"])
    main(["run", "--preset", "smoke", "--seeds", "0", "--out", str(out)])
    assert (out / "seed0" / "queries.jsonl").read_text() == before


def test_run_variant_without_retraining_and_overrides(tmp_path):
    out = tmp_path / "nowr"
    main(["run", "--preset", "smoke", "--seeds", "3", "--out", str(out), "--variant", "vqvae-nowr",
          "--budget", "4", "--free-cells", "2"])
    records = [json.loads(line) for line in (out / "seed3" / "queries.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["retrain"] is None and len(r["free"]) == 2 for r in records)
    with pytest.raises(SystemExit, match="--seeds must"):
        main(["run", "--preset", "smoke", "--seeds", "0-x", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="variant vqvae-wr-t4 fixes free_cells = 4, so --free-cells 8 contradicts it"):
        main(["run", "--preset", "smoke", "--variant", "vqvae-wr-t4", "--free-cells", "8",
              "--out", str(tmp_path / "y")])
    assert not (tmp_path / "y").exists()  # refused before anything was written


def test_unknown_preset_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--preset", "giant"])
    assert "invalid choice" in capsys.readouterr().err


def test_compare_runs_each_variant_then_reads_them_back(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cmp"
    main(["compare", "--preset", "smoke", "--seeds", "0", "--budget", "3", "--variants", "vqvae-wr,random",
          "--out", str(out)])
    result = json.loads((out / "comparison.json").read_text())
    # Table 1 names the t each run really had: the smoke preset's 4, not the paper's 8.
    assert set(result["variants"]) == {"vqvae-wr", "random"} and result["ablation"] == [{"t": 4, "variant": "vqvae-wr"}]
    row = result["variants"]["vqvae-wr"]
    assert row["paper"] == json.loads(json.dumps(VARIANTS["vqvae-wr"].paper))
    assert result["variants"]["random"]["paper"] == {}
    assert set(row["fid"]) == {"inception", "world", "smile"} and set(row["fid"]["inception"]) == {"3-5", "3", "4", "5"}
    assert 0 <= row["realism"]["pass"]["fraction"] <= 1 and row["t"] == 4
    # the t = 0 control: the pretrained VQ-VAE's reconstructions of the same 3 base faces, for both variants
    assert row["control"]["pass"]["n"] == 3 and row["control"] == result["variants"]["random"]["control"]
    assert row["valid_vs_control"]["fisher"]["a"] == [row["realism"]["pass"]["count"], 3]
    assert row["valid_vs_control"]["paired"] is None  # one seed: nothing to pair
    records = [json.loads(x) for x in (out / "vqvae-wr" / "seed0" / "queries.jsonl").read_text().splitlines()]
    assert all(len(r["free"]) == 4 for r in records)
    assert row["oracle"]["best"]["mean"] == json.loads((out / "vqvae-wr" / "summary.json").read_text())[
        "aggregate"]["oracle"]["best"]["mean"]  # the same records, read back
    assert "judge features" in result["fid_extractors"]["smile"] and result["fid_images"]["generated"]["random"] == 3
    for name in ("figure3a_topk", "figure3b_fid_inception", "figure3b_fid_world", "best_faces_vqvae-wr",
                 "oracle_vs_judge"):
        assert (out / f"{name}.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "FIDs against degrees 3-5: inception: InceptionV3 pool3" in printed
    assert (out / COMPARISON_TEXT).read_text().strip() in printed  # what notebook 06 shows is what was printed
    # Finished variants are read back: a second comparison runs no experiment at all.
    monkeypatch.setattr(compare_module, "start_run", lambda *a, **k: pytest.fail("a finished variant was rerun"))
    main(["compare", "--preset", "smoke", "--seeds", "0", "--budget", "3", "--variants", "random",
                  "--out", str(out)])
    assert set(json.loads((out / "comparison.json").read_text())["variants"]) == {"random"}


def test_compare_refuses_an_unknown_variant(tmp_path):
    with pytest.raises(SystemExit, match="unknown variants \\['vqvae-wr-t32'\\]"):
        main(["compare", "--preset", "smoke", "--variants", "vqvae-wr-t32", "--out", str(tmp_path / "c")])


def test_pretrain_trains_ships_and_a_fresh_cache_takes_the_shipped_model(tmp_path, monkeypatch, capsys):
    """`pretrain` says what made the model; `--ship` puts it where every machine finds it; a fresh cache then copies
    it instead of training; `--retrain` trains anew."""
    monkeypatch.setenv("HAPPY_DATA_DIR", str(tmp_path / "data"))
    main(["pretrain", "--preset", "smoke"])
    made = _last_json(capsys)
    assert made["generator"] == "vqvae"
    assert made["made_by"]["faces"] == "synthetic n=1200 seed=101 renderer=1 | level<=2"
    assert made["fit"]["faces"] == 256 and "latents" not in made["fit"]
    main(["pretrain", "--preset", "smoke", "--ship"])
    shipped = tmp_path / "data" / "generators" / "vqvae" / Path(made["path"]).name
    assert f"shipped as {shipped}" in capsys.readouterr().out and (shipped.parent / "SHA256SUMS").exists()
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(tmp_path / "fresh-cache"))
    from happy_utils.generators import vqvae

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the model ships")

    monkeypatch.setattr(vqvae, "train_vqvae", no_training)
    main(["pretrain", "--preset", "smoke"])
    out = capsys.readouterr().out
    assert "the repository ships this model" in out and json.loads(out.splitlines()[-1])["fit"] == made["fit"]
    with pytest.raises(AssertionError, match="trained although the model ships"):  # --retrain trains
        main(["pretrain", "--preset", "smoke", "--retrain"])


def test_the_renderer_command_compares_with_the_stored_probe(capsys):
    main(["renderer"])
    assert "within rounding" in capsys.readouterr().out


def test_every_command_begins_seeded_and_in_the_plot_style(capsys):
    """`main` seeds and styles once for every command (the commands resolve their own presets)."""
    matplotlib.rcdefaults()
    torch.manual_seed(5)
    main(["renderer"])
    assert torch.initial_seed() == 0 and matplotlib.rcParams["axes.spines.top"] is False


def test_without_ray_the_seeds_run_here_and_more_workers_say_how_to_get_it(monkeypatch, capsys, tmp_path):
    from happy_utils.experiments.fanout import default_workers

    assert default_workers(1) == max(1, os.cpu_count() or 1)  # Ray installed: one task per core
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert default_workers(1) == 1
    for flags in (["--workers", "2"], ["--address", "127.0.0.1:6379"]):
        with pytest.raises(SystemExit) as stopped:
            main(["run", "--preset", "smoke", "--seeds", "0", "--out", str(tmp_path / "run"), *flags])
        assert 'Ray is not installed: pip install -e ".[ray]"' in str(stopped.value) and flags[0] in str(stopped.value)
    assert not (tmp_path / "run").exists()  # refused before any work


def test_estimate_says_what_the_preset_costs_on_this_runtime(capsys):
    main(["estimate", "--preset", "smoke"])
    printed = capsys.readouterr().out
    assert "runtime: no GPU" in printed or "runtime: GPU" in printed
    for stage in ("VQ-VAE training (notebook 02", "notebook 05's run of 6 queries",
                  "one seed of the main job (6 queries)"):
        assert stage in printed
