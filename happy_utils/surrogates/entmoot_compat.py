"""Every workaround for entmoot 2.1.1, in one place. Each quirk below has a test in tests/test_entmoot_compat.py.

Why: ENTMOOT fits the tree ensemble (`Enting`, `ProblemConfig`) and encodes it as a mixed-integer program, but its
2.1.1 release has rough edges that would otherwise leak into the surrogate and the optimiser:

1. Categories must be strings, and `ProblemConfig.encode` maps them one Python call per cell (and returns a 1-D
   array for a single row): we declare categories "0".."255", whose encoding is the integer itself, and hand the
   integer codes to the models directly.
2. `TrainParams` has no `num_leaves`, `learning_rate` or categorical regularisation: they are set on the mean
   model's LightGBM parameters after construction.
3. The uncertainty model is always fitted (a 256x256 similarity table per cell) and always added to the MIP (one
   constraint per training point even with beta = 0; minutes with categorical features): for pure exploitation it is
   replaced by a zero term.
4. A tree that is a single leaf trips an assertion when the MIP is built: such trees are left out of entmoot's
   model and their constant is returned as an offset.
5. There is no API to fix features: the binaries of a fixed categorical feature are fixed in the Pyomo model.
6. `PyomoOptimizer` passes `solver_io`/`manage_env` arguments that `appsi_highs` rejects, and `Integer.decode`
   truncates (int(48.9999) == 48): models are solved through Pyomo's appsi interface here, and solutions are read
   by taking the largest binary of each feature, never by truncation.
7. `entmoot.problem_config` imports `gurobipy` even on the Pyomo path, so gurobipy is a hard dependency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

N_VALUES = 256


def categorical_problem(n_features: int, n_values: int = N_VALUES):
    """A maximisation problem over `n_features` categorical features with values 0..n_values-1 (quirk 1)."""
    from entmoot import ProblemConfig

    problem = ProblemConfig(rnd_seed=0)
    categories = [str(v) for v in range(n_values)]  # position == value, so encoded values are the integers
    for i in range(n_features):
        problem.add_feature("categorical", categories, name=f"cell_{i}")
    problem.add_max_objective(name="smile")
    return problem


# LightGBM settings that entmoot's TrainParams accepts; everything else goes onto the mean model (quirk 2).
_TRAIN_PARAM_FIELDS = {"objective", "metric", "boosting", "num_boost_round", "max_depth", "min_data_in_leaf",
                       "min_data_per_group", "verbose"}


def make_enting(problem, lgbm_params: dict, uncertainty: dict | None = None):
    """An `Enting` whose LightGBM gets all of `lgbm_params`, including those TrainParams lacks (quirk 2)."""
    from entmoot import Enting

    known = {k: v for k, v in lgbm_params.items() if k in _TRAIN_PARAM_FIELDS}
    enting = Enting(problem, params={"tree_train_params": {"train_params": known},
                                     "unc_params": uncertainty or {}})
    enting.mean_model._train_params.update({k: v for k, v in lgbm_params.items() if k not in _TRAIN_PARAM_FIELDS})
    return enting


def fit_enting(enting, X: np.ndarray, y: np.ndarray, uncertainty: bool = False) -> None:
    """Fit on integer-coded rows X (N, F) without entmoot's per-cell string encoding (quirk 1); the uncertainty
    model is only fitted when it will be used (quirk 3)."""
    X = np.asarray(X, dtype=np.float64)
    y_t = enting._problem_config.transform_objective(np.asarray(y, dtype=np.float64).reshape(-1, 1))
    enting.mean_model.fit(X, y_t)
    if uncertainty:
        enting.unc_model.fit(X, y_t)


def booster(enting):
    """The fitted LightGBM booster. It predicts the *transformed* objective: -y for a maximisation."""
    return enting.mean_model.tree_dict[enting._problem_config.obj_list[0].name]


class ExploitOnly:
    """Stands in for entmoot's uncertainty model: contributes nothing to the MIP (quirk 3)."""

    def add_to_pyomo_model(self, model) -> None:
        model._unc = 0.0

    def add_to_gurobipy_model(self, model) -> None:
        model._unc = 0.0


class _MetaTreesWithoutSingleLeaves:
    """entmoot's `_update_meta_tree_dict` without single-leaf trees; a class, not a closure, so that a fitted
    surrogate can be pickled (notebook 03 saves it, 04 loads it)."""

    def __init__(self, enting):
        self.enting = enting

    def __call__(self) -> None:
        from entmoot.models.mean_models import tree_ensemble
        from entmoot.models.mean_models.meta_tree_ensemble import MetaTreeModel

        mean_model, problem = self.enting.mean_model, self.enting._problem_config
        mean_model._meta_tree_dict = {}
        for obj in problem.obj_list:
            dump = mean_model.tree_dict[obj.name].dump_model()
            dump["tree_info"] = [t for t in dump["tree_info"] if "leaf_value" not in t["tree_structure"]]
            trees = tree_ensemble.read_lgbm_tree_model_dict(dump, cat_idx=problem.cat_idx)
            mean_model._meta_tree_dict[obj.name] = MetaTreeModel(trees)


def drop_single_leaf_trees(enting) -> float:
    """Make entmoot's MIP builder skip single-leaf trees (quirk 4); returns their summed constant (transformed)."""
    mean_model = enting.mean_model
    offset = 0.0
    for obj in enting._problem_config.obj_list:
        info = mean_model.tree_dict[obj.name].dump_model()["tree_info"]
        offset += sum(t["tree_structure"]["leaf_value"] for t in info if "leaf_value" in t["tree_structure"])
    mean_model._update_meta_tree_dict = _MetaTreesWithoutSingleLeaves(enting)
    return offset


def fix_categorical(model, fixed: dict[int, int]) -> None:
    """Fix categorical feature i to value v in a model from `ProblemConfig.get_pyomo_model_core` (quirk 5)."""
    for i, value in fixed.items():
        for v, var in model._all_feat[i].items():
            var.fix(1 if v == value else 0)


def read_categorical(model, n_features: int) -> np.ndarray:
    """The chosen value of every categorical feature: its largest binary, never a truncation (quirk 6)."""
    return np.array([max(model._all_feat[i].items(), key=lambda kv: kv[1].value or 0.0)[0]
                     for i in range(n_features)])


@dataclass
class SolveOutcome:
    """What a solver run left behind, whatever happened."""

    status: str  # "optimal", "time_limit", "infeasible", "error", ...
    has_solution: bool
    objective: float | None  # in the model's own sense
    bound: float | None
    seconds: float
    message: str = ""


def solve_appsi(model, solver: str, time_limit: float, mip_gap: float = 0.0) -> SolveOutcome:
    """Solve a Pyomo model through the appsi interface (quirk 6), loading the best solution found, if any.

    Never raises for a solver's refusal (a size-limited Gurobi licence, a missing solver): the outcome says why.
    """
    from pyomo.contrib.appsi.base import TerminationCondition as TC
    from pyomo.contrib.appsi.solvers import Gurobi, Highs

    classes = {"highs": Highs, "gurobi": Gurobi}
    if solver not in classes:
        return SolveOutcome("error", False, None, None, 0.0, f"unknown solver {solver!r}; use 'highs' or 'gurobi'")
    opt = classes[solver]()
    if not opt.available():
        return SolveOutcome("error", False, None, None, 0.0, f"solver {solver} is not available: {opt.available()}")
    opt.config.time_limit = time_limit
    opt.config.mip_gap = mip_gap
    opt.config.load_solution = False
    opt.config.stream_solver = False
    start = time.perf_counter()
    try:
        res = opt.solve(model)
    except Exception as err:  # e.g. gurobipy.GurobiError: Model too large for size-limited license
        return SolveOutcome("error", False, None, None, time.perf_counter() - start, f"{solver}: {err}")
    names = {TC.optimal: "optimal", TC.maxTimeLimit: "time_limit", TC.infeasible: "infeasible",
             TC.infeasibleOrUnbounded: "infeasible_or_unbounded", TC.unbounded: "unbounded",
             TC.maxIterations: "iteration_limit"}
    status = names.get(res.termination_condition, str(res.termination_condition))
    has_solution = res.best_feasible_objective is not None
    if has_solution:
        res.solution_loader.load_vars()
    return SolveOutcome(status, has_solution, res.best_feasible_objective, res.best_objective_bound,
                        time.perf_counter() - start)
