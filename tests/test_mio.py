import sys

import numpy as np
import pytest

from happy_utils.experiments.planted import planted_codes
from happy_utils.proposers import milp, mio
from happy_utils.surrogates import entmoot_compat as ec
from happy_utils.surrogates.trees import TreeModel, fit_trees, parse_trees


@pytest.fixture(scope="module")
def latent():
    X, y = planted_codes(2000, seed=1)
    return X, fit_trees(X, y, n_trees=150, learning_rate=0.1)


def _small_ensemble(seed: int, F=6, V=8, n=150, uncertainty=False):
    """A random ensemble over F categorical features of V values, fitted through entmoot."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, V, (n, F))
    main_effects = rng.normal(0, 1, (F, V))[np.arange(F), X].sum(axis=1)  # drawn first, as before the interaction
    y = main_effects + rng.normal(0, 1, V)[X[:, 0]] * rng.normal(0, 1, V)[X[:, 1]]
    problem = ec.categorical_problem(F, V)
    enting = ec.make_enting(problem, {"num_boost_round": 25, "max_depth": 2, "num_leaves": 4, "min_data_in_leaf": 3,
                                      "min_data_per_group": 3, "learning_rate": 0.3, "cat_smooth": 1.0,
                                      "cat_l2": 1.0, "max_cat_to_onehot": 1, "seed": seed, "verbose": -1})
    ec.fit_enting(enting, X, y, uncertainty=uncertainty)
    ec.drop_single_leaf_trees(enting)
    counts = np.stack([np.bincount(X[:, f], minlength=V) for f in range(F)])
    return enting, TreeModel(parse_trees(ec.booster(enting)), 0.0, F, V, counts, X), X


@pytest.mark.parametrize("seed", range(6))
def test_pruned_equals_entmoots_full_model_on_random_ensembles(seed):
    enting, model, X = _small_ensemble(seed)
    rng = np.random.default_rng(seed)
    base = X[rng.integers(len(X))]
    free = rng.choice(6, size=3, replace=False)
    full = mio.solve_full(enting, model, base, free)
    pruned = mio.solve_pruned(model, base, free)
    assert full.status == pruned.status == "optimal"
    assert pruned.objective == pytest.approx(full.objective, abs=1e-9)
    assert pruned.n_vars < full.n_vars
    # ... and against every combination of the free features.
    grid = np.array(np.meshgrid(*[range(8)] * 3)).reshape(3, -1).T
    rows = np.repeat(base[None], len(grid), axis=0)
    rows[:, np.sort(free)] = grid
    assert pruned.value == pytest.approx(model.predict(rows).max(), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_exploration_term_matches_entmoot(seed):
    enting, model, X = _small_ensemble(seed, uncertainty=True)
    base, free = X[seed], [0, 1, 4]
    full = mio.solve_full(enting, model, base, free, beta=1.5)
    pruned = mio.solve_pruned(model, base, free, beta=1.5)
    assert pruned.objective == pytest.approx(full.objective, abs=1e-9)
    assert pruned.uncertainty == pytest.approx(mio.nearest_distance(X, pruned.code))
    assert pruned.objective == pytest.approx(pruned.value + 1.5 * pruned.uncertainty)


def test_pruned_equals_full_model_at_latent_scale(latent):
    X, model = latent
    free = model.top_cells(8)
    for i in (3, 77):
        full = mio.optimize(model, X[i].reshape(8, 8), free, method="full")
        pruned = mio.optimize(model, X[i].reshape(8, 8), free)
        assert pruned.objective == pytest.approx(full.objective, abs=1e-7)
        assert pruned.n_vars < full.n_vars / 5
        fixed = np.setdiff1d(np.arange(64), free)
        assert np.array_equal(pruned.code[fixed], X[i][fixed]) and pruned.grid.shape == (8, 8)


def test_brute_force_over_all_65536_pairs(latent):
    X, model = latent
    free = np.sort(model.top_cells(2))
    base = X[5]
    rows = np.repeat(base[None], 256 * 256, axis=0)
    rows[:, free[0]] = np.repeat(np.arange(256), 256)
    rows[:, free[1]] = np.tile(np.arange(256), 256)
    best = model.predict(rows).max()
    result = mio.optimize(model, base, free)
    assert result.value == pytest.approx(best, abs=1e-9) and result.objective == pytest.approx(best, abs=1e-9)


def test_unchanged_cells_keep_the_base_value_when_they_can(latent):
    X, model = latent
    result = mio.optimize(model, X[9], model.top_cells(8))
    again = mio.optimize(model, result.code, model.top_cells(8))  # already optimal: nothing needs to move
    assert np.array_equal(again.code, result.code)


def test_a_wrong_answer_is_caught(latent):
    X, model = latent
    result = mio.optimize(model, X[2], model.top_cells(4))
    result.objective += 0.5
    with pytest.raises(mio.MIOCheckError, match="trees give"):
        mio.check_solution(result, model.tree_model, X[2])
    result.objective -= 0.5
    result.code[0] = (result.code[0] + 1) % 256 if 0 not in result.cells else result.code[0]
    with pytest.raises(mio.MIOCheckError, match="fixed cell"):
        mio.check_solution(result, model.tree_model, X[2])


def test_time_limit_returns_a_result_not_an_exception(latent):
    X, model = latent
    result = mio.optimize(model, X[4], model.top_cells(16), time_limit=1e-9)
    assert result.status == "time_limit" and not result.ok and "no solution" in result.message
    assert np.array_equal(result.code, X[4]) and result.value == pytest.approx(model.predict(X[4:5])[0])


def test_gurobi_solves_the_pruned_model_its_size_limited_licence_admits(latent):
    X, model = latent
    highs = mio.optimize(model, X[6], model.top_cells(8))
    assert highs.n_vars < 2000 and highs.n_constraints < 2000  # the pip licence's limits
    gurobi = mio.optimize(model, X[6], model.top_cells(8), solver="gurobi")
    assert gurobi.solver == "gurobi" and gurobi.status == "optimal" and gurobi.message == ""
    assert gurobi.objective == pytest.approx(highs.objective, abs=1e-6)


TOO_LARGE = "Model too large for size-limited license; visit https://gurobi.com/unrestricted for more information"


def _gurobi_refuses(monkeypatch):
    """The pip licence's refusal, both where ENTMOOT's full model (Pyomo) and the pruned one (gurobipy) meet it."""
    import gurobipy
    from pyomo.contrib.appsi.solvers import Gurobi

    def refuse(*args, **kwargs):
        raise gurobipy.GurobiError(10010, TOO_LARGE)

    monkeypatch.setattr(Gurobi, "solve", refuse)
    monkeypatch.setattr(gurobipy.Model, "optimize", refuse)


def test_a_refusing_gurobi_falls_back_to_highs_and_says_so(latent, monkeypatch):
    X, model = latent
    highs = mio.optimize(model, X[6], model.top_cells(8))
    _gurobi_refuses(monkeypatch)
    with pytest.warns(UserWarning, match="solving with HiGHS instead"):
        result = mio.optimize(model, X[6], model.top_cells(8), solver="gurobi")
    assert result.solver == "highs" and "refused" in result.message and "too large" in result.message
    assert result.objective == pytest.approx(highs.objective, abs=1e-9)


def test_a_refused_full_model_is_reported_with_the_base_code(latent, monkeypatch):
    X, model = latent
    _gurobi_refuses(monkeypatch)
    result = mio.optimize(model, X[6], model.top_cells(8), method="full", solver="gurobi")
    assert result.status == "error" and not result.ok and np.array_equal(result.code, X[6])
    assert "too large" in result.message


def test_bad_input_gets_clear_errors(latent):
    X, model = latent
    with pytest.raises(ValueError, match="base_code"):
        mio.optimize(model, np.zeros((8, 7), dtype=int), [1])
    with pytest.raises(ValueError, match=r"0\.\.255"):
        mio.optimize(model, np.full((8, 8), 256), [1])
    with pytest.raises(ValueError, match="free cells"):
        mio.optimize(model, X[0], [])
    with pytest.raises(ValueError, match="free cells"):
        mio.optimize(model, X[0], [70])
    with pytest.raises(ValueError, match="unknown solver"):
        mio.optimize(model, X[0], [1], solver="cplex")
    with pytest.raises(ValueError, match="beta"):
        mio.optimize(model, X[0], [1], beta=-1)


def test_no_solver_or_an_infeasible_model_gives_a_clear_result(latent, monkeypatch):
    X, model = latent
    monkeypatch.setitem(sys.modules, "highspy", None)  # import highspy raises ImportError
    result = mio.optimize(model, X[8], model.top_cells(8))
    assert result.status == "error" and not result.ok and "not available: pip install highspy" in result.message
    assert np.array_equal(result.code, X[8]) and result.value == pytest.approx(model.predict(X[8:9])[0])
    monkeypatch.undo()
    infeasible = milp.Solution(ec.SolveOutcome("infeasible", False, None, None, 0.01), None)
    monkeypatch.setattr(milp, "solve", lambda *a, **k: infeasible)
    result = mio.optimize(model, X[8], model.top_cells(8))
    assert result.status == "infeasible" and "no solution" in result.message and np.array_equal(result.code, X[8])


@pytest.mark.parametrize("solver", ["highs", "gurobi"])
def test_the_array_program_is_solved_with_its_offset_bounds_and_row_kinds(solver):
    program = milp.Program(offset=3.0)
    x = program.columns(2, 0.0, 1.0, integer=True)
    (z,) = program.columns(1, 0.0, 1.0, integer=False)
    program.cost[x[0]], program.cost[x[1]], program.cost[z] = 1.0, 2.0, 0.5
    program.row({x[0]: 1.0, x[1]: 1.0}, 1.0, 1.0)  # one of the two
    program.row({z: 1.0, x[0]: -1.0}, -milp.INF, 0.0)  # z only with x0
    best = milp.solve(program, solver, time_limit=10)
    assert best.outcome.status == "optimal" and best.outcome.objective == pytest.approx(5.0)
    assert np.allclose(best.values, [0, 1, 0])
    program.cost[z] = 2.0  # now x0 with z (3 + 1 + 2) beats x1 (3 + 2)
    assert np.allclose(milp.solve(program, solver, time_limit=10).values, [1, 0, 1])


def test_the_program_reads_as_an_lp_with_named_columns():
    program = milp.Program(offset=0.5)
    x = program.columns(2, 0.0, 1.0, integer=True, names=["cell3in{1}", "cell3in{0,2}"])
    (z,) = program.columns(1, 0.0, 1.0, integer=False)
    program.cost[x[0]], program.cost[z] = 2.0, -1.0
    program.row({x[0]: 1.0, x[1]: 1.0}, 1.0, 1.0)
    program.row({z: 1.0, x[0]: -0.5}, -milp.INF, 0.0)
    text = str(program).splitlines()
    assert text[0] == "maximise 0.5 + 2 cell3in{1} - x2"
    assert text[2:4] == ["  cell3in{1} + cell3in{0,2} = 1", "  x2 - 0.5 cell3in{1} <= 0"]
    assert text[4] == "binary cell3in{1} cell3in{0,2}" and text[5] == "  0 <= x2 <= 1"


def test_the_pruned_program_of_two_free_cells_reaches_the_brute_force_maximum(latent):
    X, model = latent
    tm = model.tree_model
    free = model.top_cells(2)
    built = mio.pruned_program(tm, X[3], free)
    solution = milp.solve(built.program, "highs", time_limit=20)
    code = built.code(solution.values, X[3], tm.value_counts)
    grid = np.repeat(X[3][None], 256 * 256, axis=0)
    grid[:, free[0]], grid[:, free[1]] = np.repeat(np.arange(256), 256), np.tile(np.arange(256), 256)
    best = model.predict(grid).max()
    assert solution.outcome.objective == pytest.approx(best) and model.predict(code[None])[0] == pytest.approx(best)
    assert all(name.startswith(("cell", "tree")) for name in built.program.names)
