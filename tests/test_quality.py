"""`eval-quality`: the quality measures against controlled damage, as one JSON object."""

import json

import pytest

from happy_utils.experiments.cli import main
from happy_utils.experiments.distortions import DISTORTIONS
from happy_utils.experiments.quality import print_quality


def test_eval_quality_prints_every_distortion_at_increasing_strength(capsys):
    main(["eval-quality", "--seed", "5252", "--n", "4", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["extractor"].startswith("InceptionV3 pool3")
    assert set(result["clean"]) == {"pass", "error", "fid_inception", "fid_world"}
    assert set(result["distortions"]) == set(DISTORTIONS) and "patch_swap" in result["distortions"]
    for name, rows in result["distortions"].items():
        strengths = [r["strength"] for r in rows]
        assert strengths == sorted(strengths) and len(rows) == 3
        assert all(set(r) == {"strength", "pass", "error", "fid_inception", "fid_world"} for r in rows)
    swaps = [r["error"] for r in result["distortions"]["patch_swap"]]
    assert result["clean"]["error"] < swaps[0] < swaps[2]
    print_quality(result)
    assert "patch_swap 16" in capsys.readouterr().out


def test_eval_quality_refuses_the_calibration_seed():
    with pytest.raises(SystemExit, match="calibrated or trained the realism judge"):
        main(["eval-quality", "--seed", "901", "--n", "4"])
