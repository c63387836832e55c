"""The mixed-integer program: maximise the tree ensemble over the t free latent cells, the others fixed.

Why: the paper solves the tree ensemble globally as a MIO (ENTMOOT's encoding, one binary per category of every
feature). With 56 of 64 cells fixed, most of that model is dead weight. The fast exact path here first *prunes*: every
split on a fixed cell is decided, so ~60% of the trees collapse to a constant and the rest keep only splits on free
cells; then each free cell is *re-encoded over value classes*: values that no remaining split tells apart are one
class, since the ensemble is constant across them. The MIO over classes has ~1,300 variables instead of ~20,000,
solves in a fraction of a second, and has the same optimum (tests prove it against ENTMOOT's full model and
against brute-force enumeration). Every solution is checked: the booster's own prediction at the returned code must
equal the MIO objective, and the fixed cells must be unchanged.

The exploration option adds ENTMOOT's distance-based uncertainty term (categorical overlap distance to the nearest
training code, scaled by 1/n_features): beta * min_i dist(z, z_i) joins the objective. It stays exact in the pruned
model: training codes that differ from the base code in more fixed cells than the closest one plus t can never be
the nearest and are dropped, and every value such a code holds in a free cell becomes a class of its own.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..code_support import CodeSupport
from ..surrogates import entmoot_compat as ec
from ..surrogates.fit_set import cycle_rows
from ..surrogates.trees import (
    N_VALUES,
    TreeModel,
    TreeSurrogate,
    check_codes,
    fit_trees,
    tree_value,
)
from . import manifold, milp
from .base import Proposal
from .manifold import ManifoldGuard

SOLVERS = ("highs", "gurobi")

class MIOCheckError(AssertionError):
    """The solver's answer disagrees with the trees: a bug, never a property of the data."""


def _features(tree) -> set[int]:
    if not isinstance(tree, tuple):
        return set()
    return {tree[0]} | _features(tree[2]) | _features(tree[3])


def prune(tree, fixed: np.ndarray, row: np.ndarray):
    """Decide every split on a fixed feature (fixed[f] is True) by row's value; keep splits on free ones."""
    if not isinstance(tree, tuple):
        return tree
    feature, values, left, right = tree
    if fixed[feature]:
        return prune(left if row[feature] in values else right, fixed, row)
    return (feature, values, prune(left, fixed, row), prune(right, fixed, row))


@dataclass
class MIOResult:
    """One solve: the code, what the surrogate predicts there, and how the solver got there."""

    code: np.ndarray  # (n_features,) the optimised code, fixed features unchanged
    value: float  # the surrogate's prediction h(code), from the booster
    objective: float | None  # MIO objective at the solution (value + beta * uncertainty)
    bound: float | None  # best bound on the objective
    gap: float | None  # relative gap between bound and objective
    status: str  # optimal, time_limit, error, ...
    seconds: float  # build + solve
    build_seconds: float
    solve_seconds: float
    n_vars: int
    n_constraints: int
    solver: str
    method: str  # pruned or full
    cells: list = field(default_factory=list)
    uncertainty: float = 0.0
    message: str = ""

    @property
    def grid(self) -> np.ndarray:
        """The code as an 8x8 latent grid."""
        return self.code.reshape(8, 8)

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "time_limit") and not self.message.startswith("no solution")


def check_cells(cells, n_features: int) -> np.ndarray:
    cells = np.unique(np.asarray(cells, dtype=np.int64).ravel())
    if len(cells) == 0 or cells.min() < 0 or cells.max() >= n_features:
        raise ValueError(f"free cells must be 1 to {n_features} distinct indices in 0..{n_features - 1}, got "
                         f"{cells.tolist()}")
    return cells


def _fixed(n_features: int, cells) -> np.ndarray:
    """The mask of the fixed features: every one but the free cells."""
    fixed = np.ones(n_features, dtype=bool)
    fixed[cells] = False
    return fixed


def _gap(objective, bound) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(bound - objective) / max(1e-9, abs(objective))


def _split_sets(trees: list, cells: np.ndarray) -> dict[int, list[frozenset]]:
    """The value sets of every split on each free feature."""
    sets: dict[int, list[frozenset]] = {int(f): [] for f in cells}

    def collect(t):
        if isinstance(t, tuple):
            sets[t[0]].append(t[1])
            collect(t[2])
            collect(t[3])

    for t in trees:
        collect(t)
    return sets


def _partition(n_values: int, sets: list[frozenset], keys: np.ndarray | None = None) -> np.ndarray:
    """Label each value by its membership in every set (and its row of `keys`, where given): values with one label
    are told apart by no set and no key."""
    member = np.zeros((n_values, len(sets)), dtype=bool)
    for s, values in enumerate(sets):
        member[list(values), s] = True
    if keys is not None:
        member = np.hstack([member.astype(np.float64), keys])
    return np.unique(member, axis=0, return_inverse=True)[1].ravel()


@dataclass
class _Choices:
    """The choices left for one free feature: each is a class of values, with its score from one-feature trees."""

    members: list[np.ndarray]  # values of each choice
    score: np.ndarray  # summed value of the trees that split on this feature alone
    group_of: np.ndarray  # value -> choice index, or -1 for values of dominated classes


@dataclass
class _Guarded:
    """What the guards say of one free feature's values (`manifold`): which are admitted, the prior's term from the
    fixed neighbours, and the pair counts with the free neighbours (values with other counts couple otherwise)."""

    allowed: np.ndarray  # (n_values,) bool
    unary: np.ndarray  # (n_values,) lambda * log-frequency beside the fixed neighbours
    coupling: np.ndarray  # (n_values, m) pair counts with each free neighbour's admitted codes

    def keys(self, with_unary: bool) -> np.ndarray:
        columns = [self.allowed[:, None].astype(np.float64), self.coupling]
        return np.hstack(columns + [self.unary[:, None]] if with_unary else columns)


def _choices(f: int, base: np.ndarray, single_trees: list, pair_sets: list[frozenset], all_sets: list[frozenset],
             n_values: int, guarded: _Guarded | None = None) -> _Choices:
    """Value classes of feature f, reduced to one per group that the multi-feature trees (and the guards' couplings)
    cannot tell apart.

    Within such a group only the one-feature trees (and the prior's fixed-neighbour term) differ, so the class they
    score highest dominates the others: dropping the rest keeps the optimum exact. Ties keep the base code's own
    value. Values the guards do not admit are in no class.
    """
    fine = _partition(n_values, all_sets, None if guarded is None else guarded.keys(with_unary=True))
    coarse = _partition(n_values, pair_sets, None if guarded is None else guarded.keys(with_unary=False))
    row = base.copy()
    best: dict[int, tuple[float, int]] = {}
    for c in range(fine.max() + 1):
        values = np.flatnonzero(fine == c)
        if guarded is not None and not guarded.allowed[values[0]]:
            continue
        row[f] = values[0]
        score = sum(tree_value(t, row) for t in single_trees)
        score += guarded.unary[values[0]] if guarded is not None else 0.0
        g = int(coarse[values[0]])
        is_base = bool(np.any(values == base[f]))
        key = (score, is_base)
        if g not in best or key > (best[g][0], best[g][2]):
            best[g] = (score, c, is_base)
    members, scores = [], []
    group_of = np.full(n_values, -1, dtype=np.int64)
    for i, (score, c, _) in enumerate(best.values()):
        values = np.flatnonzero(fine == c)
        members.append(values)
        scores.append(score)
        group_of[values] = i
    return _Choices(members=members, score=np.array(scores), group_of=group_of)


def _representative(values: np.ndarray, base_value: int, counts: np.ndarray) -> int:
    """Every value of a class scores the same; keep the base code's value if it is one, else the commonest in data."""
    if base_value in values:
        return int(base_value)
    return int(values[np.argmax(counts[values])])


def _leaves_and_splits(tree) -> tuple[list[float], list[tuple]]:
    """A tree's leaf values, and each split as (feature, values, ids of the leaves left of it, right of it)."""
    leaves: list[float] = []
    splits: list[tuple] = []

    def walk(t) -> list[int]:
        if not isinstance(t, tuple):
            leaves.append(t)
            return [len(leaves) - 1]
        left, right = walk(t[2]), walk(t[3])
        splits.append((t[0], t[1], left, right))
        return left + right

    walk(tree)
    return leaves, splits


@dataclass
class PrunedProgram:
    """The pruned, value-classed MIO of an ensemble at a base code: the program, and how to read a code from it."""

    program: milp.Program
    cells: np.ndarray  # the free features, checked and sorted
    choices: dict[int, _Choices]  # per free feature, its value classes
    y: dict[int, list[int]]  # per free feature, the program's column of each class (one is chosen)
    unc: int | None  # the column of the exploration term, when beta > 0
    seconds: float  # to build it

    def code(self, values: np.ndarray, base: np.ndarray, value_counts: np.ndarray) -> np.ndarray:
        """The code a solution's column values stand for: each free feature's chosen class, the base elsewhere."""
        code = base.copy()
        for f, ch in self.choices.items():
            g = int(np.argmax(values[self.y[f]]))
            code[f] = _representative(ch.members[g], int(base[f]), value_counts[f])
        return code


def _class_name(f: int, values: np.ndarray) -> str:
    shown = ",".join(map(str, values[:4])) + (f",... ({len(values)} values)" if len(values) > 4 else "")
    return f"cell{f}in{{{shown}}}"


def pruned_program(model: TreeModel, base: np.ndarray, cells, beta: float = 0.0, guard: ManifoldGuard | None = None,
                   support: CodeSupport | None = None, max_changed: int | None = None) -> PrunedProgram:
    """Maximise the ensemble over the free features of `base` as a MILP (+ beta * uncertainty, within the guards of
    `manifold`, at most `max_changed` changed features).

    Every split on a fixed feature is decided by the base's value (`_pruned_trees`). Each free feature takes one of
    its value classes, a binary each, summing to 1 (`_value_classes`): a tree over one free feature is a score per
    class, a tree over several keeps ENTMOOT's encoding, a variable per leaf and two rows per split (`tree_rows`).
    """
    start = time.perf_counter()
    base = np.asarray(base, dtype=np.int64)
    cells = check_cells(cells, model.n_features)
    guard = guard or ManifoldGuard()
    const, single, multi = _pruned_trees(model, base, cells)
    near = _near_rows(model, base, cells) if beta > 0 else None
    choices = _value_classes(model, base, single, multi, near, guard, support, max_changed)
    if guard.prior_weight > 0:
        const += manifold.fixed_pairs_prior(guard, support, base, set(choices))

    program = milp.Program(offset=float(const))
    y = {f: program.columns(len(ch.members), 0.0, 1.0, integer=True,
                            names=[_class_name(f, m) for m in ch.members]) for f, ch in choices.items()}
    for f, ch in choices.items():
        program.cost[y[f][0]:y[f][-1] + 1] = [float(w) for w in ch.score]
        program.row({c: 1.0 for c in y[f]}, 1.0, 1.0)
    for k, tree in enumerate(multi):
        tree_rows(program, k, tree, choices, y)
    if guard.needs_support and manifold.couples(guard):
        _couple_free_neighbours(program, guard, support, choices, y)
    if max_changed is not None and max_changed < len(cells):  # at least t - max_changed features keep the base
        program.row({y[f][choices[f].group_of[base[f]]]: 1.0 for f in choices}, len(cells) - max_changed, milp.INF)
    unc = None if near is None else _exploration_term(program, beta, near, model.n_features, choices, y)
    return PrunedProgram(program=program, cells=cells, choices=choices, y=y, unc=unc,
                         seconds=time.perf_counter() - start)


def _pruned_trees(model: TreeModel, base: np.ndarray, cells: np.ndarray) -> tuple[float, dict[int, list], list]:
    """Every split on a fixed feature decided by the base's value (`prune`): the constant of the trees left without a
    split, per free feature the trees over it alone, and the trees over several free features."""
    fixed = _fixed(model.n_features, cells)
    const, single, multi = model.offset, {int(f): [] for f in cells}, []
    for tree in model.trees:
        pruned = prune(tree, fixed, base)
        used = _features(pruned)
        if not used:
            const += pruned
        elif len(used) == 1:
            single[used.pop()].append(pruned)
        else:
            multi.append(pruned)
    return const, single, multi


@dataclass
class _Near:
    """The training codes that can be the nearest one to a code with these free features (ENTMOOT's exploration)."""

    rows: np.ndarray  # the codes
    fixed_mismatch: np.ndarray  # their mismatches with the base in the fixed features


def _near_rows(model: TreeModel, base: np.ndarray, cells: np.ndarray) -> _Near:
    """Only training codes within t mismatches of the closest one (in the fixed features) can be the nearest."""
    if model.train_rows is None:
        raise ValueError("the exploration term needs the training codes (TreeModel.train_rows)")
    fixed = _fixed(model.n_features, cells)
    mismatch = (model.train_rows[:, fixed] != base[fixed]).sum(axis=1)
    keep = mismatch <= mismatch.min() + len(cells)
    return _Near(model.train_rows[keep], mismatch[keep])


def _value_classes(model: TreeModel, base: np.ndarray, single: dict[int, list], multi: list, near: _Near | None,
                   guard: ManifoldGuard, support: CodeSupport | None, max_changed: int | None) -> dict[int, _Choices]:
    """Each free feature's value classes: values that no split (and no guard, no near training code) tells apart are
    one class. A value a near training code holds stays a class of its own, so the distance stays exact; so does the
    base's own value under `max_changed`, so that "unchanged" is one binary."""
    cells = np.array(sorted(single))
    singletons: dict[int, list[frozenset]] = {int(f): [] for f in cells}
    if near is not None:
        singletons = {int(f): [frozenset([int(v)]) for v in np.unique(near.rows[:, f])] for f in cells}
    guarded = _guarded(guard, support, base, cells) if guard.needs_support else {}
    if max_changed is not None:
        for f in cells:
            singletons[int(f)].append(frozenset([int(base[f])]))
    multi_sets = _split_sets(multi, cells)
    single_sets = _split_sets([t for trees in single.values() for t in trees], cells)
    return {f: _choices(f, base, single[f], multi_sets[f] + singletons[f],
                        multi_sets[f] + singletons[f] + single_sets[f], model.n_values, guarded.get(f))
            for f in single}


def _chosen_in(choices: dict[int, _Choices], y: dict[int, list[int]], f: int, values) -> list[int]:
    """The columns of the classes of f that hold any of these values: their sum is 1 when one of them is chosen."""
    return [y[f][g] for g in sorted({int(g) for g in choices[f].group_of[list(values)] if g >= 0})]


def tree_rows(program: milp.Program, k: int, tree, choices: dict[int, _Choices], y: dict[int, list[int]]) -> None:
    """Tree k over several free features, as ENTMOOT encodes it: a variable per leaf (one is 1), and per split two
    rows: the leaves left of it only when a class of its values is chosen, the leaves right of it only when not."""
    leaves, splits = _leaves_and_splits(tree)
    z = program.columns(len(leaves), 0.0, 1.0, integer=False, names=[f"tree{k}leaf{j}" for j in range(len(leaves))])
    for c, w in zip(z, leaves):
        program.cost[c] = float(w)
    program.row({c: 1.0 for c in z}, 1.0, 1.0)
    for f, values, left, right in splits:
        chosen = _chosen_in(choices, y, f, values)
        program.row({**{z[i]: 1.0 for i in left}, **{c: -1.0 for c in chosen}}, -milp.INF, 0.0)
        program.row({**{z[i]: 1.0 for i in right}, **{c: 1.0 for c in chosen}}, -milp.INF, 1.0)


def _exploration_term(program: milp.Program, beta: float, near: _Near, n_features: int, choices: dict[int, _Choices],
                      y: dict[int, list[int]]) -> int:
    """beta * unc, unc <= (mismatches in the fixed features + in the free ones) / n_features for each near code:
    ENTMOOT's distance to the nearest training code. Returns unc's column."""
    (unc,) = program.columns(1, 0.0, milp.INF, integer=False, names=["uncertainty"])
    program.cost[unc] = float(beta)
    n_free = len(choices)
    for row, c0 in zip(near.rows, near.fixed_mismatch):
        terms = {unc: 1.0}
        for f in choices:
            terms.update({c: 1.0 / n_features for c in _chosen_in(choices, y, f, [row[f]])})
        program.row(terms, -milp.INF, (float(c0) + n_free) / n_features)
    return unc


def _guarded(guard: ManifoldGuard, support: CodeSupport | None, base: np.ndarray, cells: np.ndarray
             ) -> dict[int, _Guarded]:
    """What the guards say of each free feature's values (see `_Guarded`)."""
    if support is None:
        raise ValueError(f"the guards ({guard.describe()}) need the data's code counts (support=CodeSupport.of(...))")
    if support.shape[0] * support.shape[1] != base.size:
        raise ValueError(f"the support counts {support.shape} grids, the code has {base.size} features")
    if guard.neighbours and support.unseen_pairs(base):
        raise ValueError("the support must count the base code: it holds adjacent pairs the support never saw")
    cells = {int(f) for f in cells}
    allowed = {f: manifold.allowed_values(guard, support, base, f, cells) for f in cells}
    out = {}
    for f in cells:
        coupling = [counts[:, allowed[g]] if guard.prior_weight else counts[:, allowed[g]] > 0
                    for g, counts in support.neighbours(f) if g in cells and manifold.couples(guard)]
        unary = (manifold.fixed_prior(guard, support, base, f, cells) if guard.prior_weight
                 else np.zeros(len(allowed[f])))
        out[f] = _Guarded(allowed[f], unary, np.hstack(coupling).astype(np.float64) if coupling else
                          np.zeros((len(allowed[f]), 0)))
    return out


def _couple_free_neighbours(program: milp.Program, guard: ManifoldGuard, support: CodeSupport,
                            choices: dict[int, _Choices], y: dict[int, list[int]]) -> None:
    """Rows (and, for the prior, variables) for each pair of adjacent free features. Classes are refined by their
    pair counts with the neighbour's admitted codes, so one count holds for every pair of their values."""
    for f, here in choices.items():
        for g, counts in support.neighbours(f):
            if g not in choices or g < f:
                continue
            a = [m[0] for m in here.members]
            b = [m[0] for m in choices[g].members]
            pair = counts[np.ix_(a, b)]
            if guard.neighbours:  # a class implies a class of the neighbour seen beside it, both ways
                for i in range(len(a)):
                    program.row({y[f][i]: 1.0, **{y[g][j]: -1.0 for j in np.flatnonzero(pair[i])}}, -milp.INF, 0.0)
                for j in range(len(b)):
                    program.row({y[g][j]: 1.0, **{y[f][i]: -1.0 for i in np.flatnonzero(pair[:, j])}}, -milp.INF, 0.0)
            if guard.prior_weight > 0:  # w_ij = 1 for the chosen pair when it was seen: lambda * its log-frequency
                unseen = float(support.log_frequency(0))
                program.offset += guard.prior_weight * unseen
                seen_i, seen_j = np.nonzero(pair)
                w = program.columns(len(seen_i), 0.0, 1.0, integer=False,
                                    names=[f"pair{f}_{g}_{i}_{j}" for i, j in zip(seen_i, seen_j)])
                rows_f = [{y[f][i]: -1.0} for i in range(len(a))]
                rows_g = [{y[g][j]: -1.0} for j in range(len(b))]
                for c, i, j in zip(w, seen_i, seen_j):
                    program.cost[c] = guard.prior_weight * (float(support.log_frequency(pair[i, j])) - unseen)
                    rows_f[i][c] = rows_g[j][c] = 1.0
                for terms in rows_f + rows_g:
                    program.row(terms, -milp.INF, 0.0)


def solve_pruned(model: TreeModel, base: np.ndarray, cells, solver: str = "highs", time_limit: float = 60.0,
                 beta: float = 0.0, guard: ManifoldGuard | None = None, support: CodeSupport | None = None,
                 max_changed: int | None = None) -> MIOResult:
    """Build `pruned_program`, solve it (falling back to HiGHS when another solver refuses), read and check the code."""
    start = time.perf_counter()
    base = np.asarray(base, dtype=np.int64)
    built = pruned_program(model, base, cells, beta, guard, support, max_changed)
    cells = built.cells
    program = built.program
    solution = milp.solve(program, solver, time_limit)
    if not solution.outcome.has_solution and solver != "highs":
        refused = solution.outcome.message or solution.outcome.status
        warnings.warn(f"{refused}; solving with HiGHS instead", stacklevel=2)
        solution, solver = milp.solve(program, "highs", time_limit), "highs"
        solution.outcome.message = f"the first solver refused ({refused}); solved with highs"
    outcome = solution.outcome
    code = built.code(solution.values, base, model.value_counts) if outcome.has_solution else base.copy()
    result = MIOResult(
        code=code, value=float(model.predict(code)[0]), objective=outcome.objective, bound=outcome.bound,
        gap=_gap(outcome.objective, outcome.bound), status=outcome.status, seconds=time.perf_counter() - start,
        build_seconds=built.seconds, solve_seconds=outcome.seconds, n_vars=program.n_columns,
        n_constraints=program.n_rows, solver=solver, method="pruned", cells=cells.tolist(),
        uncertainty=float(solution.values[built.unc]) if built.unc is not None and outcome.has_solution else 0.0,
        message=outcome.message if outcome.has_solution else
        f"no solution ({outcome.status}: {outcome.message}); returning the base code")
    if outcome.has_solution:
        check_solution(result, model, base, beta, guard, support, max_changed)
    return result


def nearest_distance(rows: np.ndarray, code: np.ndarray) -> float:
    """ENTMOOT's categorical uncertainty: overlap distance to the nearest row, divided by the number of features."""
    return float((rows != code).sum(axis=1).min()) / rows.shape[1]


def check_solution(result: MIOResult, model: TreeModel, base: np.ndarray, beta: float = 0.0,
                   guard: ManifoldGuard | None = None, support: CodeSupport | None = None,
                   max_changed: int | None = None) -> None:
    """The booster's prediction (+ the exploration and prior terms) at the code must equal the MIO objective; fixed
    features must be unchanged; the guards must admit the code."""
    fixed = _fixed(model.n_features, result.cells)
    if not np.array_equal(result.code[fixed], base[fixed]):
        raise MIOCheckError("the solution changed a fixed cell")
    guard = guard or ManifoldGuard()
    broken = manifold.check_guarded(guard, support if guard.needs_support else None, base, result.code, max_changed)
    if broken:
        raise MIOCheckError(f"the solution leaves the guards: {broken}")
    expected = result.value
    if beta > 0:
        expected += beta * nearest_distance(model.train_rows, result.code)
    if guard.prior_weight > 0:
        expected += guard.prior_weight * support.log_prior(result.code)
    if result.objective is not None and abs(expected - result.objective) > 1e-5 * max(1.0, abs(expected)):
        raise MIOCheckError(f"MIO objective {result.objective:.8f} but the trees give {expected:.8f} at the code")


def solve_full(enting, model: TreeModel, base: np.ndarray, cells, solver: str = "highs", time_limit: float = 600.0,
               beta: float = 0.0) -> MIOResult:
    """The reference: ENTMOOT's own, unpruned model of the whole ensemble, with the fixed features fixed."""
    start = time.perf_counter()
    base = np.asarray(base, dtype=np.int64)
    cells = check_cells(cells, model.n_features)
    problem = enting._problem_config
    core = problem.get_pyomo_model_core()
    ec.fix_categorical(core, {f: int(base[f]) for f in range(model.n_features) if f not in set(cells.tolist())})
    saved_unc, saved_beta = enting.unc_model, enting._beta
    if beta == 0:
        enting.unc_model, enting._beta = ec.ExploitOnly(), 0.0
    else:
        enting._beta = -beta  # entmoot's "exploration" sense rewards distance
    try:
        enting.add_to_pyomo_model(core)
    finally:
        enting.unc_model, enting._beta = saved_unc, saved_beta
    build = time.perf_counter() - start
    n_vars, n_cons = core.nvariables(), core.nconstraints()
    outcome = ec.solve_appsi(core, solver, time_limit)
    code = ec.read_categorical(core, model.n_features) if outcome.has_solution else base.copy()
    # entmoot minimises mu - beta * unc, mu over -y without the single-leaf trees' constant.
    single = model.offset + sum(t for t in model.trees if not isinstance(t, tuple))
    objective = None if outcome.objective is None else -outcome.objective + single
    bound = None if outcome.bound is None else -outcome.bound + single
    unc = nearest_distance(model.train_rows, code) if beta > 0 else 0.0
    result = MIOResult(
        code=code, value=float(model.predict(code)[0]), objective=objective, bound=bound,
        gap=_gap(objective, bound), status=outcome.status, seconds=time.perf_counter() - start,
        build_seconds=build, solve_seconds=outcome.seconds, n_vars=n_vars, n_constraints=n_cons, solver=solver,
        method="full", cells=cells.tolist(), uncertainty=unc, message=outcome.message)
    if outcome.has_solution:
        check_solution(result, model, base, beta)
    return result


def optimize(surrogate: TreeSurrogate, base_code, cells, method: str = "pruned", solver: str = "highs",
             time_limit: float = 60.0, beta: float = 0.0, guard: ManifoldGuard | None = None,
             support: CodeSupport | None = None, max_changed: int | None = None) -> MIOResult:
    """One query: maximise a fitted `Surrogate` over `cells` (flat indices 0..63) of `base_code` (8x8), within
    the guards (`manifold`; `support`: the data's code counts) and at most `max_changed` changed cells.

    `method` 'pruned' is the fast exact path; 'full' is ENTMOOT's own model, kept as the reference (unguarded).
    """
    base = check_codes(np.asarray(base_code)[None], "base_code")[0]
    if method not in ("pruned", "full"):
        raise ValueError(f"unknown method {method!r}; use 'pruned' or 'full'")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    if beta < 0:
        raise ValueError(f"beta (the exploration weight) must be >= 0, got {beta}")
    if max_changed is not None and max_changed < 1:
        raise ValueError(f"max_changed (the trust region's radius) must be >= 1, got {max_changed}")
    if method == "pruned":
        return solve_pruned(surrogate.tree_model, base, cells, solver, time_limit, beta, guard, support, max_changed)
    if (guard is not None and guard.active) or max_changed is not None:
        raise ValueError("ENTMOOT's full model is the unguarded reference: use method='pruned' with the guards")
    return solve_full(surrogate.enting, surrogate.tree_model, base, cells, solver, time_limit, beta)


class MIOProposer:
    """The paper's query: refit the trees on the cycle's data, solve the MIO over the t most important cells of the
    base code, the others fixed; with a `guard`, within what the training faces support (`manifold`)."""

    name = "mio"

    def __init__(self, free_cells: int, n_trees: int, seed: int, per_cycle: int = 1,
                 fit_set: tuple[int, int] | None = None, solver: str = "highs", time_limit: float = 60.0,
                 beta: float = 0.0, threads: int = 1, guard: ManifoldGuard | None = None):
        self.free_cells, self.n_trees, self.seed, self.threads = free_cells, n_trees, seed, threads
        self.per_cycle, self.fit_set = per_cycle, fit_set
        self.solver, self.time_limit, self.beta = solver, time_limit, beta
        self.guard = guard or ManifoldGuard()

    def propose(self, q: int, latents: np.ndarray, labels: np.ndarray, base: np.ndarray) -> Proposal:
        rows = cycle_rows(q, self.per_cycle, labels, self.fit_set, self.seed)
        x = latents[rows]  # rows encoded on read are the re-encode's cost, not the fit's (`LatentRows`)
        start = time.perf_counter()
        surrogate = fit_trees(x, labels[rows], n_trees=self.n_trees, seed=self.seed, num_threads=self.threads)
        fit_s = time.perf_counter() - start
        proposal = self.solve(surrogate, base, *self.guard_inputs(q, rows, x, labels, base))
        proposal.fit_s = fit_s
        return proposal

    def guard_inputs(self, q: int, rows: np.ndarray, x: np.ndarray, labels: np.ndarray, base: np.ndarray
                     ) -> tuple[CodeSupport | None, int | None]:
        """What the guard reads for query q, fitted on `rows` (latents `x`) of the data: the code counts of the
        training faces among them and of the base (the queries are what is in doubt), and the trust region's
        radius, replayed from the queries' labels. (None, None) without a guard."""
        n_train = len(labels) - q  # the data is the training faces, then the q queries so far
        support = max_changed = None
        if self.guard.needs_support:
            support = CodeSupport.of(np.vstack([x[rows < n_train], base[None]]).reshape(-1, 8, 8), N_VALUES)
        if self.guard.trust_region:
            max_changed = manifold.trust_radius(self.free_cells, labels[n_train:], float(labels[:n_train].max()))
        return support, max_changed

    def solve(self, surrogate: TreeSurrogate, base: np.ndarray, support: CodeSupport | None = None,
              max_changed: int | None = None) -> Proposal:
        """The MIO step alone, on trees fitted elsewhere (notebook 04 fits once and solves from many faces)."""
        result = optimize(surrogate, base, surrogate.top_cells(self.free_cells), solver=self.solver,
                          time_limit=self.time_limit, beta=self.beta, guard=self.guard, support=support,
                          max_changed=max_changed)
        record = {"free": result.cells, "surrogate": result.value, "objective": result.objective,
                  "status": result.status, "gap": result.gap, "solver": result.solver, "n_vars": result.n_vars,
                  "message": result.message}
        if self.guard.active:
            record["max_changed"] = max_changed
            record["log_prior"] = None if support is None else support.log_prior(result.code)
        return Proposal(latent=result.code, fit_s=0.0, solve_s=result.seconds, record=record)
