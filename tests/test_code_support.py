import numpy as np
import pytest

from happy_utils.code_support import CodeSupport


def test_code_support_counts_codes_per_cell_and_adjacent_pairs_per_position():
    data = np.array([[[0, 1], [2, 3]],
                     [[0, 1], [2, 2]],
                     [[1, 0], [2, 3]]])
    support = CodeSupport.of(data, num_codes=4)
    assert support.cell_counts[0, 0].tolist() == [2, 1, 0, 0] and support.cell_counts[1, 1].tolist() == [0, 0, 1, 2]
    assert support.rare_cells(data[0]) == 0 and support.unseen_pairs(data[0]) == 0  # every training grid is supported
    edited = np.array([[0, 1], [2, 1]])  # code 1 never seen at (1, 1); (2, 1) never side by side, (1, 1) never above
    assert support.rare_cells(edited) == 1 and support.unseen_pairs(edited) == 2
    swapped = np.array([[1, 1], [2, 3]])  # each code seen at its cell, but 1 never left of another 1
    assert support.rare_cells(swapped) == 0 and support.unseen_pairs(swapped) == 1
    assert support.rare_cells(swapped, min_count=2) == 1  # 1 was seen once at (0, 0)
    with pytest.raises(ValueError, match="codes must lie in \\[0, 4\\)"):
        CodeSupport.of(data + 1, num_codes=4)
    with pytest.raises(ValueError, match="code grids \\(N, H, W\\)"):
        CodeSupport.of(data[0], num_codes=4)


def test_code_support_agrees_with_counting_by_hand_on_random_grids():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 6, size=(40, 3, 4))
    support = CodeSupport.of(data, num_codes=6)
    for grid in rng.integers(0, 6, size=(20, 3, 4)):
        rare = sum((data[:, i, j] == grid[i, j]).sum() < 2 for i in range(3) for j in range(4))
        pairs = {(i, j, g[i, j], g[i, j + 1], "r") for g in data for i in range(3) for j in range(3)}
        pairs |= {(i, j, g[i, j], g[i + 1, j], "d") for g in data for i in range(2) for j in range(4)}
        unseen = sum((i, j, grid[i, j], grid[i, j + 1], "r") not in pairs for i in range(3) for j in range(3))
        unseen += sum((i, j, grid[i, j], grid[i + 1, j], "d") not in pairs for i in range(2) for j in range(4))
        assert support.rare_cells(grid, min_count=2) == rare and support.unseen_pairs(grid) == unseen


def test_support_diagnosis_bins_the_pass_rate_by_unsupported_cells_and_pairs(tmp_path):
    """Seeds of two variants: one whose queries are encoded training faces (every cell and pair supported), one
    whose queries are random grids; the pass rate per bin is read from their realism."""
    import json

    from happy_utils.config import get_preset
    from happy_utils.data.sources import load_faces
    from happy_utils.experiments import support_diagnosis
    from happy_utils.experiments.seed_measures import write_seed
    from happy_utils.experiments.variants import VARIANTS

    cfg = get_preset("smoke")
    restricted = load_faces("train", cfg, "synthetic").restricted()
    codes = VARIANTS["vqvae-wr"].load_generator(cfg, restricted, progress=False).encode(restricted.images[:6]).numpy()
    rng = np.random.default_rng(0)
    random_codes = rng.integers(0, 256, size=(6, 8, 8))
    for variant, grids, passed in (("vqvae-nowr", codes, [True] * 6), ("random", random_codes, [False] * 6)):
        write_seed(tmp_path / "seeds" / "budget-6" / variant / "seed0.json",
                   {"variant": variant, "seed": 0, "records": [{"code": g.ravel().tolist()} for g in grids],
                    "realism": {"passed": passed}})
    report = support_diagnosis.diagnose(cfg, tmp_path)
    supported, random = report["variants"]["vqvae-nowr"], report["variants"]["random"]
    assert supported["mean_unseen_cells"] == 0 and supported["mean_unseen_pairs"] == 0
    assert supported["fully_supported"]["count"] == 6 and supported["pass_by_unseen_cells"][0]["pass"]["count"] == 6
    assert random["mean_unseen_cells"] > 10 and random["fully_supported"]["count"] == 0
    last = random["pass_by_unseen_cells"][-1]
    assert last["queries"] == 6 and last["pass"]["count"] == 0
    assert json.loads((tmp_path / "support.json").read_text()) == report
    printed = support_diagnosis.table(report)
    assert "vqvae-nowr" in printed and "fully supported 100.0%" in printed
