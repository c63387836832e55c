"""The claims: which runs they need, the paired statistics, the diagnostics, the ceiling, and the report drawn from
summaries alone."""

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from happy_utils import metrics
from happy_utils.experiments import claims, claims_report, seed_measures, summaries
from happy_utils.experiments.cli import main
from happy_utils.experiments.compare import load_variant
from happy_utils.loop import rank_weights
from happy_utils.records import RunDir

FIXTURE = Path(__file__).parent / "fixtures" / "claims-smoke"  # written by `claims --preset smoke` (see the test below)


def test_plan_runs_the_pair_long_and_every_other_variant_at_the_budget(tmp_path):
    plan = claims.Plan.resolve("smoke", "synthetic", "0-4", budget=100, long_budget=300, out=tmp_path)
    placed = plan.placed()
    assert [s.variant.name for s, _ in placed] == list(claims.TESTED) and claims.TESTED[:2] == claims.PAIR
    for spec, folder in placed:
        long = spec.variant.name in claims.PAIR
        assert spec.loop_config(0).budget == (300 if long else 100) and spec.seeds == (0, 1, 2, 3, 4)
        assert folder == tmp_path / ("long-300" if long else "budget-100") / spec.variant.name
    assert {"vqvae-wr-t4", "vqvae-wr-t12", "vqvae-wr-t16"} <= set(claims.TESTED)
    assert "--seeds 0,1,2,3,4 --budget 100 --long-budget 300" in plan.command()
    assert claims.Plan.resolve("smoke", seeds="0-1", budget=10).long_budget == 30  # 3x by default
    with pytest.raises(ValueError, match="--long-budget \\(50\\) must be at least --budget \\(100\\)"):
        claims.Plan.resolve("smoke", seeds="0-4", budget=100, long_budget=50)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        claims.Plan.resolve("smoke", seeds="3", budget=10)


def _records(scores, seed, same_codes_until=0, retrain=None):
    """Records of one seed: unique codes (the first `same_codes_until` shared with every run of that seed)."""
    out = []
    for i, s in enumerate(scores):
        code = [seed, i, 0] if i < same_codes_until else [seed, i, 1 + int(1000 * s)]
        out.append({"index": i, "score": float(s), "code": code, "surrogate": float(s) + 0.5, "judge": None,
                    "retrain": retrain(i) if retrain else None})
    return out


def test_paired_report_takes_differences_per_seed_and_tests_them():
    rng = np.random.default_rng(0)
    b = {s: _records(rng.uniform(0, 2, 60), s, same_codes_until=2 + s) for s in range(5)}
    lift = [0.1, 0.2, 0.3, 0.15, 0.25]
    a = {s: _records([r["score"] + lift[s] for r in b[s]], s, same_codes_until=2 + s) for s in range(5)}
    report = claims.paired_report(a, b, budget=20, long_budget=60)
    assert report["checkpoints"] == [20, 40, 60] and report["seeds"] == [0, 1, 2, 3, 4]
    # every seed's queries are shifted by its lift, so every TopK is too: the difference is the mean lift
    top10 = report["tests"]["top10"]["60"]
    assert top10["mean"] == pytest.approx(np.mean(lift)) and top10["wins"] == 5
    assert top10["differences"] == pytest.approx(lift)
    assert top10["p_sign_flip"] == pytest.approx(2 / 32) and top10["p_t"] < 0.01
    assert np.allclose(report["difference"]["top50"]["mean"][49:], np.mean(lift))
    assert len(report["curves"]["top10"]["a"]) == 5 and len(report["curves"]["top10"]["a"][0]) == 60
    assert report["first_query_that_differs"] == [2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="60 queries"):
        claims.paired_report({s: r[:30] for s, r in a.items()}, b, 20, 60)


def test_sign_flip_p_is_the_fraction_of_sign_patterns_at_least_as_extreme():
    assert metrics.sign_flip_p([1.0, 1.0, 1.0]) == pytest.approx(2 / 8)
    assert metrics.sign_flip_p([1.0, -1.0]) == pytest.approx(1.0)
    paired = metrics.paired_difference([2.0, 3.0, 4.0], [1.0, 1.0, 1.0])
    assert paired["mean"] == pytest.approx(2.0) and paired["wins"] == 3 and 0 < paired["p_t"] < 0.1
    with pytest.raises(ValueError, match="equally long"):
        metrics.paired_difference([1.0, 2.0], [1.0])


def test_weighting_report_measures_the_rank_weights_and_fine_tune_steps():
    def retrain(i):
        if i % 5:
            return None
        return {"data_size": 1000 + i, "epochs": 1.0 if i == 0 else 0.1, "final_recon": 0.01}
    records = {s: _records(np.linspace(0, 1, 10), s, retrain=retrain) for s in range(2)}
    report = claims.weighting_report(records, k=1e-3, batch_size=16)
    assert report["retrainings_per_seed"] == 2
    w = np.sort(rank_weights(np.arange(1000.0), 1e-3))[::-1]
    assert report["mean"]["top_1pct"]["first"] == pytest.approx(w[:10].sum())
    assert report["mean"]["steps"] == {"first": 63, "later": 7}  # ceil(1000 / 16), ceil(0.1 * 1005 / 16)
    assert 0 < report["mean"]["ess_fraction"]["first"] < 1


def test_surrogate_reach_compares_each_prediction_with_the_best_point_seen_then():
    records = {0: [{"score": 1.0, "surrogate": 2.5}, {"score": 3.0, "surrogate": 2.8},
                   {"score": 0.5, "surrogate": 2.9}]}
    reach = claims.surrogate_reach(records, training_best=2.6)
    # best so far: 2.6, 2.6, 3.0 -> only the second prediction aims above it
    assert reach["above_best_so_far"] == pytest.approx(1 / 3)
    assert reach["prediction_minus_oracle"] == pytest.approx(np.mean([1.5, -0.2, 2.4]))


def test_ceiling_finds_the_best_realistic_query_and_counts_level4_smiles():
    degrees = {0: [2.0, 4.02, 3.52, 1.0, 4.9], 1: [3.6, 4.8, 0.5]}
    passed = {0: [True, False, True, True, True], 1: [True, True, True]}
    realism = {s: {"passed": passed[s], "true_degree": d, "error": [0.0] * len(d)} for s, d in degrees.items()}
    records = {s: [{"score": float(i), "judge": None} for i in range(len(d))] for s, d in degrees.items()}
    c = claims.ceiling(records, realism, n=4)  # each seed's first 4 queries: seed 0's 4.9 is left out
    assert c["queries"] == 7 and c["passed"] == 6
    assert (c["best_realistic"]["seed"], c["best_realistic"]["query"]) == (1, 1)
    assert c["best_realistic"]["true_degree"] == pytest.approx(4.8)
    assert c["best_reading_any"]["true_degree"] == pytest.approx(4.8)
    assert c["level4_realistic"] == 3 and c["level4_reading_any"] == 4
    assert (c["best_realistic_by_oracle"]["seed"], c["best_realistic_by_oracle"]["query"]) == (0, 3)
    assert claims.ceiling(records, realism, n=5)["best_realistic"]["true_degree"] == pytest.approx(4.9)


def test_control_summary_pools_the_reconstructions_and_the_variant_is_set_beside_it():
    per_seed = {0: {"faces": 100, "passed": 90, "error": 0.01, "oracle": 1.5, "true_degree_valid": 1.2,
                    "reading_any": 1.3},
                1: {"faces": 100, "passed": 80, "error": 0.02, "oracle": 1.7, "true_degree_valid": None,
                    "reading_any": 1.1}}
    control = claims.control_summary(per_seed)
    assert control["pass"] == metrics.proportion(170, 200) and control["pass_fraction_per_seed"] == [0.9, 0.8]
    assert control["oracle"]["mean"] == pytest.approx(1.6) and control["true_degree_valid"]["mean"] is None
    assert claims.control_summary({0: per_seed[0], 1: None}) is None  # a seed without it: no control, not a part
    realism = {"pass": metrics.proportion(8, 200)}
    seeds = {0: {"realism": {"pass_fraction": 0.05}}, 1: {"realism": {"pass_fraction": 0.03}}}
    vs = claims.valid_vs_control(realism, seeds, control)
    assert vs["ratio"] == pytest.approx(0.04 / 0.85) and vs["paired"]["differences"] == pytest.approx([-0.85, -0.77])
    assert vs["fisher"]["p"] < 1e-10 and vs["fisher"]["a"] == [8, 200]


def _quality_row(passed, fids, kids=None, bases="b"):
    return {"quality_per_seed": {s: {"passed": p, "queries": 100, "bases": f"{bases}{s}",
                                     "fid": {"inception": f, "world": f / 10},
                                     "kid": None if kids is None else {"inception": kids[s], "world": kids[s]}}
                                 for s, (p, f) in enumerate(zip(passed, fids))}}


def test_quality_pair_pairs_the_valid_share_fids_and_kids_seed_by_seed():
    a = _quality_row([5, 3, 4, 2, 6], [200.0, 210.0, 190.0, 205.0, 195.0], kids=[0.1] * 5)
    b = _quality_row([2, 1, 2, 0, 3], [220.0, 240.0, 200.0, 215.0, 230.0], kids=[0.15, 0.25, 0.2, 0.18, 0.22])
    q = claims.quality_pair(a, b)
    assert q["seeds"] == [0, 1, 2, 3, 4] and q["bases_shared"] == 5
    assert q["pass"]["differences"] == pytest.approx([0.03, 0.02, 0.02, 0.02, 0.03]) and q["pass"]["wins"] == 5
    assert q["pass"]["p_sign_flip"] == pytest.approx(2 / 32)
    assert q["fisher"]["a"] == [20, 500] and q["fisher"]["b"] == [8, 500] and 0 < q["fisher"]["p"] < 0.05
    assert q["fid"]["inception"]["mean"] == pytest.approx(-21.0) and q["fid"]["world"]["mean"] == pytest.approx(-2.1)
    assert q["kid"]["inception"]["mean"] == pytest.approx(-0.1)
    no_kid = claims.quality_pair(a, _quality_row([2, 1, 2, 0, 3], [220.0] * 5, bases="c"))
    assert no_kid["kid"]["inception"] is None and no_kid["bases_shared"] == 0
    with pytest.raises(ValueError, match=">= 2 common seeds"):
        claims.quality_pair(a, {"quality_per_seed": {0: b["quality_per_seed"][0]}})


def _measured(plan, v, s, fingerprint="f0"):
    queries = plan.long_budget if v in claims.PAIR else plan.budget
    return {"preset": plan.preset.name, "source": plan.source, "variant": v, "seed": s, "queries": queries,
            "fid_queries": plan.budget, "generator": {"kind": "vae" if v == "vae-wr" else "vqvae",
                                                      "fingerprint": fingerprint},
            "fid": {"inception": {"3-5": 1.0}}, "fid_notes": [], "near_duplicates": 0, "drift": None,
            "realism": {"passed": [True] * queries, "true_degree": [1.0] * queries, "error": [0.0] * queries},
            "records": _records(np.linspace(0, 1, queries), s)}


def test_seed_measures_are_kept_per_seed_and_the_plan_knows_which_are_missing(tmp_path):
    plan = claims.Plan.resolve("smoke", "synthetic", "0-1", budget=3, long_budget=6, out=tmp_path / "runs")
    results = tmp_path / "results"
    assert plan.missing(results) == {v: [0, 1] for v in claims.TESTED}
    assert plan.seed_file(results, "vqvae-wr", 1) == results / "seeds" / "long-6" / "vqvae-wr" / "seed1.json"
    assert plan.seed_file(results, "random", 0) == results / "seeds" / "budget-3" / "random" / "seed0.json"
    m = _measured(plan, "vqvae-wr", 1)
    seed_measures.write_seed(plan.seed_file(results, "vqvae-wr", 1), m)
    assert seed_measures.read_seed(plan.seed_file(results, "vqvae-wr", 1)) == json.loads(json.dumps(m))
    assert plan.missing(results)["vqvae-wr"] == [0] and plan.missing(results)["random"] == [0, 1]
    with pytest.raises(FileNotFoundError, match="lacks the measures of vqvae-wr: seeds 0"):
        claims.read_measures(plan, results)
    plan.seed_file(results, "random", 0).parent.mkdir(parents=True)
    plan.seed_file(results, "random", 0).write_text('{"cut off')
    with pytest.raises(ValueError, match="seed0.json is not a seed's measures"):
        seed_measures.read_seed(plan.seed_file(results, "random", 0))


def test_merging_refuses_seeds_of_another_plan_or_another_pretrained_generator(tmp_path):
    plan = claims.Plan.resolve("smoke", "synthetic", "0-1", budget=3, long_budget=6, out=tmp_path / "runs")
    for v in claims.TESTED:
        for s in plan.seeds:
            seed_measures.write_seed(plan.seed_file(tmp_path, v, s), _measured(plan, v, s))
    assert set(claims.read_measures(plan, tmp_path)) == set(claims.TESTED)
    seed_measures.write_seed(plan.seed_file(tmp_path, "vqvae-wr-t4", 1), _measured(plan, "vqvae-wr-t4", 1, "f1"))
    with pytest.raises(ValueError, match="different pretrained generators {'vqvae': \\['f0', 'f1'\\]}"):
        claims.read_measures(plan, tmp_path)
    short = _measured(plan, "vqvae-nowr", 0) | {"queries": 3}
    seed_measures.write_seed(plan.seed_file(tmp_path, "vqvae-wr-t4", 1), _measured(plan, "vqvae-wr-t4", 1))
    seed_measures.write_seed(plan.seed_file(tmp_path, "vqvae-nowr", 0), short)
    with pytest.raises(ValueError, match="vqvae-nowr/seed0.json was measured .* with 3 queries"):
        claims.read_measures(plan, tmp_path)
    with pytest.raises(ValueError, match="--variants: \\['nope'\\]"):
        claims.run_claims(plan, tmp_path, variants=["nope"])


def test_interim_shows_the_seeds_measured_so_far_and_the_pair_over_its_common_seeds(tmp_path, capsys):
    plan = claims.Plan.resolve("smoke", "synthetic", "0-2", budget=3, long_budget=6, out=tmp_path / "runs")
    for v, seeds in (("vqvae-nowr", (0, 1, 2)), ("vqvae-wr", (0, 1)), ("vae-wr", (2,))):
        for s in seeds:
            m = _measured(plan, v, s)
            lift = 0.5 + 0.1 * s if v == "vqvae-wr" else 0.0
            times = dict.fromkeys(summaries.TIME_KEYS, 1.0)
            m["records"] = [r | {"score": r["score"] + lift, "status": "optimal", "times": times} for r in m["records"]]
            seed_measures.write_seed(plan.seed_file(tmp_path, v, s), m)
    text = claims.interim(plan, tmp_path)
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:6]}
    assert set(rows) == {"vqvae-wr", "vqvae-nowr", "vae-wr"}
    # 3 queries: no Top10 (n/a), and no Top10@6 for a variant not run long ("-")
    assert rows["vqvae-wr"][1] == "0,1" and rows["vae-wr"][1:7] == ["2", "n/a", "-", "1.00", "n/a", "1.00"]
    assert rows["vqvae-nowr"][2] == "n/a"
    assert "vqvae-wr - vqvae-nowr, top10, seeds 0,1: at 3: +0.550 +-0.635" in text  # lifts 0.5 and 0.6
    assert "wins 2/2" in text and "still missing: vqvae-wr: seeds 2; vqvae-wr-decoded: seeds 0,1,2" in text
    seed_measures.write_seed(plan.seed_file(tmp_path, "vae-wr", 1), _measured(plan, "vae-wr", 1, "f1"))
    with pytest.raises(ValueError, match="different pretrained generators {'vae': \\['f0', 'f1'\\]}"):
        claims.interim(plan, tmp_path)
    plan.seed_file(tmp_path, "vae-wr", 1).unlink()
    main(["claims", "--preset", "smoke", "--seeds", "0-2", "--budget", "3", "--long-budget", "6", "--results",
          str(tmp_path), "--out", str(tmp_path / "runs"), "--interim"])
    assert capsys.readouterr().out.strip() == text
    assert not (tmp_path / "runs").exists() and not (tmp_path / "claims.json").exists()  # nothing run or written


def test_generator_fingerprint_names_the_weights():
    from happy_utils.generators.vqvae import VQVAE, VQVAEConfig

    torch.manual_seed(0)
    model = VQVAE(VQVAEConfig(width=8))
    same = copy.deepcopy(model)
    assert seed_measures.generator_fingerprint(model) == seed_measures.generator_fingerprint(same)
    with torch.no_grad():
        next(same.parameters())[0].add_(1e-3)
    assert seed_measures.generator_fingerprint(model) != seed_measures.generator_fingerprint(same)


def _finished_run(folder: Path, queries: int) -> None:
    with RunDir(folder / "seed0", {"x": 1}) as run:
        run.save_state({"done": queries, "query_images": torch.zeros(queries, 3, 4, 4, dtype=torch.uint8),
                        "records": [{"index": i, "score": float(i), "code": [i]} for i in range(queries)]})
    (folder / "summary.json").write_text(json.dumps({"seeds": [0]}))


def test_load_variant_keeps_a_longer_runs_first_queries_and_refuses_a_short_one(tmp_path):
    _finished_run(tmp_path / "v", 6)
    _, records, images = load_variant(tmp_path / "v", budget=4)
    assert [r["index"] for r in records[0]] == [0, 1, 2, 3] and len(images[0]) == 4
    assert len(load_variant(tmp_path / "v")[1][0]) == 6
    with pytest.raises(ValueError, match="seeds \\[0\\] have fewer than 10 queries"):
        load_variant(tmp_path / "v", budget=10)


def test_report_is_drawn_from_the_summaries_alone(tmp_path):
    results = claims.read_results(FIXTURE)
    text = claims_report.tables(results)
    for title in ("The comparison", "paired over seeds", "rank weights", "t trade-off", "The ceiling",
                  "level-4 smile"):
        assert title in text
    for variant in claims.TESTED:
        assert f"`{variant}`" in text
    assert results["claims"]["plan"]["command"] in text
    assert set(claims_report.figures(results)) == set(claims_report.FIGURES)
    copy = tmp_path / "results"
    shutil.copytree(FIXTURE, copy)
    main(["claims", "--report", "--results", str(copy)])
    readme = (copy / "README.md").read_text()
    assert text in readme and all(f"figures/{name}.png" in readme for name in claims_report.FIGURES)
    assert all((copy / "figures" / f"{name}.png").stat().st_size > 5000 for name in claims_report.figures(results))
    with pytest.raises(FileNotFoundError, match="lacks comparison.json, claims.json"):
        claims.read_results(tmp_path)


def test_verdicts_read_every_figure_from_the_summaries(tmp_path):
    results = claims.read_results(FIXTURE)
    template = tmp_path / "verdicts.md"
    template.write_text("Top10 {claims.paired.tests.top10.6.mean:+.3f}, p {claims.paired.tests.top10.6.p_t:.2f}; "
                        "t = {claims.tradeoff.0.t}: valid Top10 {claims.tradeoff.0.valid_top10.mean:.2f}, "
                        "FID {claims.tradeoff.0.fid.world:.1f±}, valid {claims.tradeoff.0.valid_top10:.2f±}, "
                        "{claims.tradeoff.0.pass:share}, sign-flip {claims.paired.tests.top10.6.p_sign_flip:p}.")
    t = results["claims"]["paired"]["tests"]["top10"]["6"]
    fid = results["claims"]["tradeoff"][0]["fid"]["world"]
    share = results["claims"]["tradeoff"][0]["pass"]
    valid = results["claims"]["tradeoff"][0]["valid_top10"]  # a seed has fewer than 10 valid queries: n/a, counted
    text = claims_report.verdicts(results, template)
    assert " ".join(text.split()) == (
        f"Top10 {t['mean']:+.3f}, p {t['p_t']:.2f}; t = 4: valid Top10 n/a, FID {fid['mean']:.1f} ± {fid['ci95']:.1f}, "
        f"valid n/a ({valid['n']} of {valid['seeds']} seeds), {share['count']} of {share['n']}: "
        f"{share['fraction']:.1%} [{share['wilson95'][0]:.1%}, "
        f"{share['wilson95'][1]:.1%}], sign-flip p = {t['p_sign_flip']:.3g}.") and text.endswith(".\n")
    template.write_text("{claims.paired.tests.top10.7.mean:.2f}")
    with pytest.raises(ValueError, match=r"verdicts.md: \{claims.paired.tests.top10.7.mean\} names no figure .*'7'"):
        claims_report.verdicts(results, template)


def test_verdicts_keep_tables_and_wrap_list_items_one_by_one(tmp_path):
    results = claims.read_results(FIXTURE)
    template = tmp_path / "verdicts.md"
    long = "word " * 40
    template.write_text(f"Intro {long}\nend.\n\n- first {long}\n  more\n- second\n\n| t | p |\n|---|---|\n"
                        "| 4 | {claims.paired.tests.top10.6.p_t:p} |\n")
    text = claims_report.verdicts(results, template)
    intro, items, table = text.strip().split("\n\n")
    assert all(len(line) <= 117 for line in text.splitlines()) and "\n" in intro
    assert items.splitlines()[0].startswith("- first word") and items.splitlines()[1].startswith("  word")
    assert items.splitlines()[-1] == "- second"
    p = results["claims"]["paired"]["tests"]["top10"]["6"]["p_t"]
    assert table.splitlines() == ["| t | p |", "|---|---|", f"| 4 | p = {p:.3g} |"]
    template.write_text("```bash\npython -m happy_utils claims --preset laptop   # a comment\nsecond line\n```\n")
    assert claims_report.verdicts(results, template) == template.read_text()  # a fenced code block as written


def test_report_regenerates_the_readme_section_between_its_markers(tmp_path):
    copy, readme = tmp_path / "results", tmp_path / "README.md"
    shutil.copytree(FIXTURE, copy)
    (copy / claims_report.VERDICTS).write_text("(b) holds: {claims.paired.tests.top10.6.mean:+.2f}.\n")
    readme.write_text(f"# x\n\nbefore\n\n{claims_report.README_BEGIN}\nold\n{claims_report.README_END}\n\nafter\n")
    claims_report.write_report(copy, readme)
    text = readme.read_text()
    lift = claims.read_results(FIXTURE)["claims"]["paired"]["tests"]["top10"]["6"]["mean"]
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "\nold\n" not in text
    assert f"(b) holds: {lift:+.2f}." in text and "| `vqvae-wr-t16` |" in text and "paired t-test p" in text
    assert "](results/figures/claims_topk.png)" in text and "[results/README.md](results/README.md)" in text
    assert f"## Verdicts\n\n(b) holds: {lift:+.2f}." in (copy / "README.md").read_text()
    claims_report.write_report(copy, readme)
    assert readme.read_text() == text
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="README.md lacks a section's markers"):
        claims_report.write_report(copy, readme)
    # the "Beyond the paper" section: its prose's fields read from the summaries, the goals table beside it
    (copy / claims_report.BEYOND_PROSE).write_text("Valid: {claims.beyond.vqvae-wr-neighbours.valid_share:share}.\n")
    readme.write_text(f"{claims_report.README_BEGIN}\n{claims_report.README_END}\n\n{claims_report.BEYOND_BEGIN}\nold\n"
                      f"{claims_report.BEYOND_END}\n")
    claims_report.write_report(copy, readme)
    share = claims.read_results(FIXTURE)["claims"]["beyond"]["vqvae-wr-neighbours"]["valid_share"]
    text = readme.read_text()
    assert f"Valid: {share['count']} of {share['n']}:" in text and "| vqvae-wr-neighbours | 2 |" in text
    assert "\nold\n" not in text and "Beyond the paper: the guarded searches" in (copy / "README.md").read_text()


def test_claims_refuses_celeba_before_measuring(tmp_path):
    plan = claims.Plan.resolve("smoke", "celeba", "0-1", budget=3, out=tmp_path)
    with pytest.raises(ValueError, match="synthetic world's ground truth"):
        claims.measure(plan, tmp_path / "results")


def test_claims_command_runs_measures_and_reports_at_smoke(isolated_folders, capsys):
    """Every run the claims need (the pair at the long budget), in two parts as on two machines, each seed measured
    as it finishes, then merged into the summaries and the report, at the smoke size; the summaries have the
    committed fixture's shape, so the report tests above read what the command writes."""
    results = isolated_folders / "results"
    command = ["claims", "--preset", "smoke", "--seeds", "0-1", "--budget", "3", "--long-budget", "6", "--workers", "1",
               "--results", str(results)]
    main(command + ["--variants", "random,vqvae-nowr"])  # a part: its seeds measured, nothing merged
    assert "measures still missing" in capsys.readouterr().out and not (results / "claims.json").exists()
    assert sorted(p.parent.name for p in (results / "seeds").rglob("seed*.json")) == ["random"] * 2 + ["vqvae-nowr"] * 2
    main(command)
    main(command + ["--variants", "vqvae-wr-neighbours"])  # a guarded variant joins once all its seeds are measured
    fresh, fixture = claims.read_results(results), claims.read_results(FIXTURE)
    for part in ("comparison", "claims"):
        assert set(fresh[part]) == set(fixture[part])
    c, cl = fresh["comparison"], fresh["claims"]
    measured = [*claims.TESTED, "vqvae-wr-neighbours"]
    assert list(c["variants"]) == measured and all(r["queries"] == 3 for r in c["variants"].values())
    assert list(cl["beyond"]) == ["vqvae-wr", "vqvae-wr-neighbours"]
    assert cl["beyond"]["vqvae-wr-neighbours"]["valid_share"]["n"] == 6 and list(fixture["claims"]["beyond"]) == [
        "vqvae-wr", "vqvae-wr-neighbours"]
    assert set(c["variants"]["vqvae-wr"]["fid"]) == {"inception", "world"}
    assert c["variants"]["vqvae-wr"]["fid"]["inception"]["3-5"]["n"] == 2
    assert c["training_set"]["fid"]["world"]["3-5"]["n"] == 2
    assert cl["paired"]["queries"] == 6 and cl["paired"]["checkpoints"] == [3, 4, 6]
    assert [r["t"] for r in cl["tradeoff"]] == sorted(r["t"] for r in cl["tradeoff"])
    assert set(cl["ceiling"]) == set(measured) and set(cl["decoder_reach"]) == {"vqvae", "vae"}
    assert set(cl["surrogate_reach"]) == {v for v in measured if v not in ("vae-wr", "random")}
    assert cl["why_weighted_retraining"]["generator_drift"]["codes_changed"]["n"] == 2
    # the t = 0 control beside every variant, of the pretrained generator and (measured now) of the fine-tuned one
    for v, row in c["variants"].items():
        assert row["control"]["pass"]["n"] == 6 and 0 <= row["control"]["pass"]["fraction"] <= 1
        low, high = row["realism"]["pass"]["wilson95"]
        assert 0 <= low <= row["realism"]["pass"]["fraction"] <= high <= 1
        assert (row["control_tuned"] is not None) == claims.VARIANTS[v].weighted_retraining
        assert row["kid"] is not None and row["kid"]["inception"]["3-5"]["n"] == 2
        assert row["realism"]["valid_oracle"]["top10"]["mean"] is None  # 3 queries a seed: never a valid Top10
    same_bases = c["variants"]["vqvae-wr"]["control"]["pass"] == c["variants"]["random"]["control"]["pass"]
    assert same_bases and cl["paired_quality"]["vqvae-wr - vqvae-nowr"]["bases_shared"] == 2
    assert set(cl["paired_quality"]) == {f"vqvae-wr - {v}" for v in measured if v != "vqvae-wr"}
    assert cl["training_reading"]["faces"] == cl["training_reading"]["reading_any"]["n"] > 10
    runs = isolated_folders / "runs" / "claims-smoke"
    assert len(RunDir.existing(runs / "long-6" / "vqvae-nowr" / "seed1").records()) == 6
    assert len(RunDir.existing(runs / "budget-3" / "vqvae-wr-t12" / "seed0").records()) == 3
    assert (results / "README.md").exists() and (results / "figures" / "claims_paired.png").exists()
    assert "summaries, README.md and figures/" in capsys.readouterr().out
    # a seed's measures lost while its run folder is there: measured again from the folder, nothing run
    kept = results / "seeds" / "long-6" / "vqvae-wr" / "seed1.json"
    before = seed_measures.read_seed(kept)
    kept.unlink()
    main(command)
    again = seed_measures.read_seed(kept)
    assert again["records"] == before["records"] and again["realism"] == before["realism"]
    assert again["fid"]["inception"]["3-5"] == pytest.approx(before["fid"]["inception"]["3-5"], rel=1e-3)
    assert len(RunDir.existing(runs / "long-6" / "vqvae-wr" / "seed1").records()) == 6


def test_the_console_and_the_readme_print_a_figure_over_seeds_one_way():
    from happy_utils.experiments.tables import comparison_text, pm

    one_seed, two_seeds = metrics.interval([2.5]), metrics.interval([2.0, 3.0])
    some_lack_it = summaries.interval_of_all([2.0, None])
    assert pm(one_seed) == "2.50"  # no interval from one seed: the mean alone, never its standard deviation
    assert pm(two_seeds) == f"2.50 ± {two_seeds['ci95']:.2f}" and two_seeds["ci95"] > two_seeds["std"]
    assert pm(some_lack_it) == "n/a (1 of 2 seeds)" and pm(some_lack_it, compact=True) == "n/a (1/2)"
    fields = claims_report._SummaryFields({"x": two_seeds}, Path("verdicts.md"))
    assert fields.format("{x:.2f±}") == pm(two_seeds)  # a README template's figure
    row = {"t": 8, "oracle": {"top10": one_seed, "top50": two_seeds}, "realism": None, "control": None,
           "fid": {"inception": {"3-5": 50.0}}, "judge": None, "near_duplicates": 0, "paper": {}}
    result = {"fid_extractors": {"inception": "InceptionV3"}, "variants": {"vqvae-wr": row},
              "training_set": {"fid": {"inception": {"3-5": 40.0}}}, "fid_notes": [], "ablation": []}
    printed = comparison_text(result).splitlines()[3]
    assert printed.split()[:4] == ["vqvae-wr", "8", "2.50", "2.50"] and pm(two_seeds) in printed
