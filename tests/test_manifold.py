"""The guards that keep the MIO on the data (`proposers.manifold`): each family, alone and together, solved exactly
against brute force over every code of the free cells of tiny 3x3 instances."""

import itertools

import numpy as np
import pytest

from happy_utils.code_support import UNSEEN_PAIR_COUNT, CodeSupport
from happy_utils.proposers import manifold, mio
from happy_utils.proposers.manifold import ManifoldGuard
from tests.test_mio import _small_ensemble

V = 5  # codes per cell of the tiny instances

GUARDS = {
    "supported": (ManifoldGuard(min_count=2), None),
    "neighbours": (ManifoldGuard(neighbours=True), None),
    "prior": (ManifoldGuard(prior_weight=0.3), None),
    "neighbours+prior": (ManifoldGuard(neighbours=True, prior_weight=0.3), None),
    "trust region": (ManifoldGuard(trust_region=True), 2),
    "all": (ManifoldGuard(min_count=2, neighbours=True, prior_weight=0.1, trust_region=True), 3),
}


def _instance(seed: int):
    """Trees over a 3x3 grid of 5 codes, and a support counted in 14 structured grids (many pairs never seen)."""
    _, model, _ = _small_ensemble(seed, F=9, V=V)
    rng = np.random.default_rng(100 + seed)
    data = np.cumsum(rng.integers(0, 2, size=(14, 9)), axis=1) % V  # neighbours mostly equal or one apart
    support = CodeSupport.of(data.reshape(-1, 3, 3), V)
    return model, data, support


def _admitted(guard: ManifoldGuard, support: CodeSupport, base: np.ndarray, code: np.ndarray, radius) -> bool:
    return manifold.check_guarded(guard, support, base, code, radius) is None


@pytest.mark.parametrize("family", list(GUARDS))
@pytest.mark.parametrize("seed", range(4))
def test_the_guarded_program_reaches_the_brute_force_optimum(family, seed):
    guard, radius = GUARDS[family]
    model, data, support = _instance(seed)
    rng = np.random.default_rng(seed)
    base = data[rng.integers(len(data))]
    free = np.sort(rng.choice(9, size=4, replace=False))
    result = mio.solve_pruned(model, base, free, guard=guard, support=support, max_changed=radius)
    best, best_code = -np.inf, None
    for values in itertools.product(range(V), repeat=len(free)):
        code = base.copy()
        code[free] = values
        if not _admitted(guard, support, base, code, radius):
            continue
        value = model.predict(code)[0] + guard.prior_weight * support.log_prior(code)
        if value > best:
            best, best_code = value, code
    assert result.status == "optimal" and result.objective == pytest.approx(best, abs=1e-9)
    assert _admitted(guard, support, base, result.code, radius)  # also checked inside, by check_solution
    unguarded = mio.solve_pruned(model, base, free)
    assert unguarded.value >= result.value - 1e-9  # a guard never finds a better tree value than none
    assert best_code is not None


def test_the_guards_bind_on_these_instances():
    """The brute-force test means something only where the guards change the answer: they do, on most instances."""
    changed = 0
    for seed in range(4):
        model, data, support = _instance(seed)
        base, free = data[seed], [0, 1, 4, 8]
        plain = mio.solve_pruned(model, base, free)
        guarded = mio.solve_pruned(model, base, free, guard=ManifoldGuard(neighbours=True), support=support)
        changed += not np.array_equal(plain.code, guarded.code)
        assert support.unseen_pairs(guarded.code) == 0
    assert changed >= 2


def test_a_solution_outside_the_guards_is_caught():
    model, data, support = _instance(0)
    base, free = data[0], [0, 1, 4, 8]
    guard = ManifoldGuard(neighbours=True)
    result = mio.solve_pruned(model, base, free, guard=guard, support=support)
    unseen = next(v for v in range(V) if support.right_counts[0, 0, v, base[1]] == 0)
    result.code[0] = unseen
    result.value = float(model.predict(result.code)[0])
    with pytest.raises(mio.MIOCheckError, match="never seen together"):
        mio.check_solution(result, model, base, guard=guard, support=support)
    result = mio.solve_pruned(model, base, free, max_changed=1)
    assert (result.code != base).sum() <= 1
    result.code[free[:2]] = (base[free[:2]] + 1) % V
    with pytest.raises(mio.MIOCheckError, match="trust region allows 1"):
        mio.check_solution(result, model, base, max_changed=1)


def test_guards_need_their_support_and_a_base_it_counts():
    model, data, support = _instance(1)
    with pytest.raises(ValueError, match="need the data's code counts"):
        mio.solve_pruned(model, data[0], [0, 1], guard=ManifoldGuard(min_count=1))
    stranger = (data[0] + np.arange(9)) % V
    if support.unseen_pairs(stranger):
        with pytest.raises(ValueError, match="must count the base code"):
            mio.solve_pruned(model, stranger, [0, 1], guard=ManifoldGuard(neighbours=True), support=support)
    with pytest.raises(ValueError, match="min_count"):
        ManifoldGuard(min_count=-1)
    with pytest.raises(ValueError, match="prior_weight"):
        ManifoldGuard(prior_weight=float("nan"))


def test_the_supported_codes_rule_shrinks_the_program_and_the_prior_grows_it():
    model, data, support = _instance(2)
    base, free = data[2], [0, 1, 3, 4]
    plain = mio.pruned_program(model, base, free).program
    supported = mio.pruned_program(model, base, free, guard=ManifoldGuard(min_count=3), support=support).program
    prior = mio.pruned_program(model, base, free, guard=ManifoldGuard(prior_weight=0.5), support=support).program
    assert supported.n_columns < plain.n_columns
    assert prior.n_columns > plain.n_columns and any(n.startswith("pair") for n in prior.names)


def test_the_log_prior_sums_log_frequencies_of_adjacent_pairs():
    data = np.array([[[0, 1], [2, 3]], [[0, 1], [2, 2]]])
    support = CodeSupport.of(data, 4)
    grid = np.array([[0, 1], [2, 2]])  # pairs: (0,1) seen 2x, (2,2) 1x, (0,2) 2x, (1,2) 1x
    assert support.log_prior(grid) == pytest.approx(2 * np.log(2 / 2) + 2 * np.log(1 / 2))
    never = np.array([[1, 0], [2, 2]])  # (1, 0) never side by side, 1 never above 2 in the first column
    expected = sum(np.log((c if c else UNSEEN_PAIR_COUNT) / 2) for c in support.pair_counts(never))
    assert support.log_prior(never) == pytest.approx(expected) and support.unseen_pairs(never) >= 1
    assert [g for g, _ in support.neighbours(0)] == [1, 2] and [g for g, _ in support.neighbours(3)] == [2, 1]
    assert support.neighbours(1)[0][1][1, 0] == support.right_counts[0, 0, 0, 1]  # oriented [code here, there]


def test_the_trust_region_grows_after_successes_shrinks_after_failures_and_restarts():
    assert manifold.trust_radius(8, np.array([]), 1.0) == 4
    assert manifold.trust_radius(8, np.array([1.1, 1.2]), 1.0) == 5  # two successes
    assert manifold.trust_radius(8, np.full(manifold.FAILURE_STREAK, 0.5), 1.0) == 3
    assert manifold.trust_radius(2, np.full(2 * manifold.FAILURE_STREAK, 0.5), 1.0) == 1  # 1 -> 0 restarts at 1
    assert manifold.trust_radius(4, np.full(2 * manifold.FAILURE_STREAK, 0.5), 1.0) == 2  # 2 -> 1 -> 0: restart at 2
    assert manifold.trust_radius(4, np.full(3 * manifold.FAILURE_STREAK, 0.5), 1.0) == 1
    assert manifold.trust_radius(3, np.array([0.5] * 9 + [1.5, 0.5]), 1.0) == 2  # a success resets the failures
