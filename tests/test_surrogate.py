import numpy as np
import pytest
import torch

from happy_utils.config import get_preset
from happy_utils.experiments.planted import planted_codes
from happy_utils.loop import LoopConfig
from happy_utils.surrogates.trees import check_codes, fit_trees, holdout_r2, tree_text


@pytest.fixture(scope="module")
def planted():
    X, y = planted_codes(2000, seed=0)
    return X, y, fit_trees(X, y, n_trees=150, learning_rate=0.1)


def test_paper_settings_reach_lightgbm(planted):
    _, _, model = planted
    params = model.booster.params
    assert params["max_depth"] == 2 and params["num_leaves"] == 5 and params["min_data_in_leaf"] == 20
    assert model.booster.num_trees() == 150
    assert max(t["num_leaves"] for t in model.booster.dump_model()["tree_info"]) <= 5
    assert all(f.is_cat() for f in model.enting._problem_config.feat_list)  # cells are categorical features


def test_the_default_is_the_papers_800_trees_and_fewer_take_larger_steps(planted):
    X, y, _ = planted
    paper = fit_trees(X[:400], y[:400])
    assert paper.booster.num_trees() == 800 and paper.booster.params["learning_rate"] == pytest.approx(0.05)
    fewer = fit_trees(X[:400], y[:400], n_trees=400)
    assert fewer.booster.num_trees() == 400 and fewer.booster.params["learning_rate"] == pytest.approx(0.1)


def test_importance_finds_the_planted_cells(planted):
    _, _, model = planted
    top = set(model.top_cells(8).tolist())
    assert top <= set(range(32, 56, 2))  # the 12 cells that carry the score
    assert model.importance().shape == (8, 8)


def test_predictions_and_held_out_r2(planted):
    X, y, model = planted
    pred = model.predict(torch.from_numpy(X[:10]).view(10, 8, 8))
    assert pred.shape == (10,)
    np.testing.assert_allclose(pred, model.predict(X[:10]))
    np.testing.assert_allclose(model.tree_model.predict(X[:10]), pred, atol=1e-9)
    r2, y_true, y_pred = holdout_r2(X, y, n_trees=150, learning_rate=0.1)
    assert r2 > 0.15 and len(y_true) == len(y_pred) == 400
    shuffled, _, _ = holdout_r2(X, np.random.default_rng(0).permutation(y), n_trees=150, learning_rate=0.1)
    assert shuffled < 0.05 < r2


def test_bad_input_gets_clear_errors(planted):
    _, _, model = planted
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8\) or \(N, 64\)"):
        check_codes(np.zeros((3, 8, 7), dtype=int))
    with pytest.raises(ValueError, match=r"0\.\.255"):
        check_codes(np.full((1, 64), 300))
    with pytest.raises(ValueError, match="integer"):
        check_codes(np.zeros((1, 64)))
    for t in (0, 65, 2.5):  # checked once, where the loop's settings are made
        with pytest.raises(ValueError, match=r"free_cells \(t\) must be an integer in 1..64"):
            LoopConfig.from_preset(get_preset("smoke"), free_cells=t)
    with pytest.raises(ValueError, match="finite"):
        fit_trees(np.zeros((50, 64), dtype=int), np.zeros(49))
    with pytest.raises(ValueError, match="at least 40"):
        fit_trees(np.zeros((10, 64), dtype=int), np.zeros(10))


def test_a_tree_reads_as_nested_if_else_over_cells_and_code_sets():
    tree = (11, frozenset({2, 1}), 0.5, (40, frozenset({7}), -1.0, 2.25))
    assert tree_text(tree).splitlines() == [
        "if cell 11 (row 1, column 3) in {1, 2}:", "    -> +0.5000", "else:",
        "    if cell 40 (row 5, column 0) in {7}:", "        -> -1.0000", "    else:", "        -> +2.2500"]
