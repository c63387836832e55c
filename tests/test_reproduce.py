import json

import pytest

from happy_utils.config import get_preset
from happy_utils.experiments.compare import run_specs
from happy_utils.experiments.reproduce import (
    committed_seed,
    compare_records,
    describe,
    reproduce,
)
from happy_utils.experiments.spec import RunSpec
from happy_utils.records import RunDir


def _records(codes, scores):
    return [{"code": c, "score": s, "base_index": i} for i, (c, s) in enumerate(zip(codes, scores))]


def test_runs_that_part_at_a_query_are_compared_query_by_query():
    committed = _records([[1, 2], [3, 4], [5, 6], [7, 8]], [1.0, 2.0, 3.0, 1.5])
    mine = _records([[1, 2], [3, 4], [5, 7]], [1.0, 2.0 + 1e-7, 2.5])
    report = compare_records(mine, committed)
    assert report["queries"] == 3 and report["codes_equal"] == 2 and report["first_different"] == 2
    assert report["bases_equal"] == 3 and report["cells_different"] == pytest.approx(1 / 3)
    assert report["score_gap_same_codes"] == pytest.approx(1e-7, rel=1e-3)
    assert report["topk"] == {"top1": {"rerun": 2.5, "committed": 3.0}}  # only the first 3 committed queries count
    same = compare_records(committed, committed)
    assert same["first_different"] is None and same["codes_equal"] == 4


def test_a_committed_smoke_seed_is_rerun_and_matches(tmp_path):
    """Rerun the first queries of a seed that a run of this machine committed: every code is equal."""
    cfg = get_preset("smoke")
    run_specs([(RunSpec.resolve(cfg, "synthetic", "vqvae-wr", [0], budget=3, threads=1), tmp_path / "made")],
              summaries=False)
    records = RunDir.existing(tmp_path / "made" / "seed0").records()
    seed_file = tmp_path / "results" / "seeds" / "long-9" / "vqvae-wr" / "seed0.json"
    seed_file.parent.mkdir(parents=True)
    seed_file.write_text(json.dumps({"records": records}))
    assert committed_seed(tmp_path / "results", "vqvae-wr", 0)["records"] == records
    report = reproduce(cfg, "synthetic", "vqvae-wr", 0, 2, 1, tmp_path / "results", tmp_path / "rerun")
    assert report["codes_equal"] == 2 and report["first_different"] is None
    assert json.loads((tmp_path / "rerun" / "reproduction.json").read_text()) == report
    assert "codes equal: 2 of 2" in describe(report) and "base faces equal to the committed run's: 2 of 2" in \
        describe(report)
    with pytest.raises(ValueError, match="the committed seed has 3"):
        reproduce(cfg, "synthetic", "vqvae-wr", 0, 4, 1, tmp_path / "results", tmp_path / "rerun")
    with pytest.raises(FileNotFoundError, match="no committed measures of vqvae-nowr seed 0"):
        committed_seed(tmp_path / "results", "vqvae-nowr", 0)
