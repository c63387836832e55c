"""The surrogate's fit set: the authors' n best + n random points, drawn per cycle, and the cycle's queries."""

import numpy as np

from happy_utils.experiments.planted import planted_codes
from happy_utils.proposers import mio
from happy_utils.proposers.mio import MIOProposer
from happy_utils.surrogates.fit_set import best_and_random, cycle_rows


def test_best_and_random_keeps_the_best_and_draws_the_rest():
    labels = np.random.default_rng(0).normal(size=1000)
    rows = best_and_random(labels, 20, 80, seed=1)
    assert len(rows) == 100 and len(set(rows)) == 100 and np.all(np.diff(rows) > 0)
    assert set(np.argsort(-labels)[:20]) <= set(rows)
    assert np.array_equal(rows, best_and_random(labels, 20, 80, seed=1))
    assert not np.array_equal(rows, best_and_random(labels, 20, 80, seed=2))
    assert np.array_equal(best_and_random(labels[:50], 20, 80, seed=1), np.arange(50))  # fewer points: all of them


def test_a_cycle_draws_once_from_the_data_at_its_start_and_adds_its_queries():
    labels = np.random.default_rng(0).normal(size=500)
    assert np.array_equal(cycle_rows(7, 5, labels, None, seed=0), np.arange(500))
    # query 7 is the third of cycle 1 (r = 5): the cycle began with 498 points, two queries came since.
    rows = cycle_rows(7, 5, labels, (10, 40), seed=0)
    assert np.array_equal(rows[-2:], [498, 499]) and len(rows) == 52
    assert np.array_equal(rows[:50], best_and_random(labels[:498], 10, 40, seed=[0, 1, 2]))
    assert np.array_equal(cycle_rows(6, 5, labels[:499], (10, 40), seed=0)[:50], rows[:50])  # same draw in the cycle
    assert not np.array_equal(cycle_rows(10, 5, labels, (10, 40), seed=0)[:50], rows[:50])  # a new cycle draws anew


def test_the_mio_proposer_fits_the_trees_on_the_cycles_rows(monkeypatch):
    X, y = planted_codes(600, seed=3)
    seen = []
    real = mio.fit_trees
    monkeypatch.setattr(mio, "fit_trees", lambda X_, y_, **k: seen.append((X_, y_)) or real(X_, y_, **k))
    proposer = MIOProposer(free_cells=4, n_trees=30, seed=5, per_cycle=5, fit_set=(50, 150))
    proposal = proposer.propose(7, X, y, X[0])
    rows = cycle_rows(7, 5, y, (50, 150), seed=5)
    assert np.array_equal(seen[0][0], X[rows]) and np.array_equal(seen[0][1], y[rows])
    assert proposal.fit_s > 0 and proposal.record["status"] == "optimal"
