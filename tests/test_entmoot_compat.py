"""One test per entmoot 2.1.1 quirk wrapped in happy_utils.entmoot_compat: first the quirk, then the wrapper."""

import numpy as np
import pytest

from happy_utils.proposers import mio
from happy_utils.surrogates import entmoot_compat as ec
from happy_utils.surrogates.trees import TreeModel, parse_trees

F, V = 6, 8


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, V, (n, F))
    y = (X[:, 0] >= 4) * 2.0 + (X[:, 1] % 2) * 0.5 + rng.normal(0, 0.05, n)
    return X, y


SMALL = {"num_boost_round": 30, "max_depth": 2, "num_leaves": 4, "min_data_in_leaf": 5, "min_data_per_group": 5,
         "learning_rate": 0.3, "cat_smooth": 1.0, "cat_l2": 1.0, "verbose": -1}


def _fitted(uncertainty=False, X=None, y=None):
    if X is None:
        X, y = _data()
    problem = ec.categorical_problem(F, V)
    enting = ec.make_enting(problem, SMALL)
    ec.fit_enting(enting, X, y, uncertainty=uncertainty)
    return problem, enting, X, y


def test_categories_must_be_strings():
    from entmoot import ProblemConfig

    with pytest.raises(AssertionError, match="str"):
        ProblemConfig().add_feature("categorical", [0, 1, 2])
    problem = ec.categorical_problem(3, 5)
    assert [f.cat_list for f in problem.feat_list] == [["0", "1", "2", "3", "4"]] * 3
    assert problem.feat_list[0].encode("4") == 4  # so an integer code is its own encoding


def test_fit_takes_integer_codes_without_string_encoding():
    problem, enting, X, y = _fitted()
    from entmoot import Enting

    with pytest.raises(KeyError):  # entmoot's own fit looks integers up among the string categories
        Enting(problem, params={}).fit(X, y.reshape(-1, 1))
    assert np.corrcoef(-ec.booster(enting).predict(X.astype(float)), y)[0, 1] > 0.9


def test_lightgbm_parameters_that_train_params_lacks():
    from entmoot.models.model_params import TrainParams

    with pytest.raises(TypeError, match="num_leaves"):
        TrainParams(num_leaves=5)
    _, enting, _, _ = _fitted()
    params = ec.booster(enting).params
    assert params["num_leaves"] == 4 and params["learning_rate"] == 0.3 and params["cat_smooth"] == 1.0
    leaves = [t["num_leaves"] for t in ec.booster(enting).dump_model()["tree_info"]]
    assert max(leaves) <= 4


def test_exploit_only_adds_no_constraint_per_training_point():
    counts = {}
    for n in (100, 300):
        problem, enting, _, _ = _fitted(uncertainty=True, X=_data(n)[0], y=_data(n)[1])
        raw = problem.get_pyomo_model_core()
        enting.add_to_pyomo_model(raw)  # entmoot's default: one distance constraint per training point
        enting.unc_model = ec.ExploitOnly()
        lean = problem.get_pyomo_model_core()
        enting.add_to_pyomo_model(lean)
        counts[n] = (raw.nconstraints(), lean.nconstraints())
    assert counts[300][0] - counts[100][0] >= 200  # grows with the data
    assert counts[300][1] - counts[100][1] < 50  # only the trees, which hardly change


def test_single_leaf_trees_are_left_out_with_their_constant():
    X, y = _data(30)
    problem = ec.categorical_problem(F, V)
    enting = ec.make_enting(problem, {**SMALL, "min_data_in_leaf": 20})  # 30 rows: no split is possible
    ec.fit_enting(enting, X, y)
    enting.unc_model = ec.ExploitOnly()
    with pytest.raises(AssertionError, match="no tree ensemble could be trained"):
        enting.add_to_pyomo_model(problem.get_pyomo_model_core())
    offset = ec.drop_single_leaf_trees(enting)
    assert offset == pytest.approx(-y.mean(), abs=1e-6)  # the constant model, in entmoot's -y units
    model = TreeModel(parse_trees(ec.booster(enting)), 0.0, F, V, np.ones((F, V)), X)
    result = mio.solve_full(enting, model, X[0], [0, 1])
    assert result.status == "optimal" and result.objective == pytest.approx(y.mean(), abs=1e-6)


def test_fixing_categorical_features():
    problem, enting, X, _ = _fitted()
    core = problem.get_pyomo_model_core()
    ec.fix_categorical(core, {2: 5, 3: 0})
    assert core._all_feat[2][5].fixed and core._all_feat[2][5].value == 1
    assert core._all_feat[2][4].fixed and core._all_feat[2][4].value == 0
    assert not core._all_feat[0][1].fixed
    enting.unc_model = ec.ExploitOnly()
    enting.add_to_pyomo_model(core)
    assert ec.solve_appsi(core, "highs", 30).status == "optimal"
    code = ec.read_categorical(core, F)
    assert code[2] == 5 and code[3] == 0


def test_pyomo_optimizer_cannot_use_appsi_highs_but_solve_appsi_can():
    from entmoot import PyomoOptimizer

    problem, enting, _, _ = _fitted()
    enting.unc_model = ec.ExploitOnly()
    with pytest.raises(Exception):
        PyomoOptimizer(problem, params={"solver_name": "appsi_highs", "verbose": False}).solve(enting)
    core = problem.get_pyomo_model_core()
    enting.add_to_pyomo_model(core)
    outcome = ec.solve_appsi(core, "highs", 30)
    assert outcome.status == "optimal" and outcome.has_solution and outcome.bound == pytest.approx(outcome.objective)


def test_solutions_are_read_by_the_largest_binary_not_truncated():
    from entmoot.problem_config import Integer

    assert Integer(0, 255, "x").decode(48.9999) == 48  # the quirk
    problem = ec.categorical_problem(2, 4)
    core = problem.get_pyomo_model_core()
    for i, value in ((0, 3), (1, 1)):
        for v, var in core._all_feat[i].items():
            var.set_value(0.9999 if v == value else 1e-7, skip_validation=True)
    assert ec.read_categorical(core, 2).tolist() == [3, 1]


def test_a_refusing_solver_is_an_outcome_not_an_exception():
    problem, enting, _, _ = _fitted()
    core = problem.get_pyomo_model_core()
    enting.unc_model = ec.ExploitOnly()
    enting.add_to_pyomo_model(core)
    outcome = ec.solve_appsi(core, "cplex-from-mars", 5)
    assert outcome.status == "error" and not outcome.has_solution and "unknown solver" in outcome.message
