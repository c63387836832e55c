"""Guards that keep the MIO's answer on the data: which codes a free cell may take, which neighbours it may have,
a prior on adjacent pairs, and a trust region on how many cells change.

Why: the trees are trained on encoded faces, and a categorical split sends every code it does not list to the other
side, so the MIO's optimum is often a code combination the trees like and no face has (issue 30: the paper's method
keeps 4% of the decoder's own valid share). What a CelebA user has to tell such combinations apart is the encoded
training faces (`code_support.CodeSupport`); the guards read only that, never an evaluator:

- *supported codes* (`min_count`): a free cell takes only codes seen at that cell at least `min_count` times;
- *compatible neighbours* (`neighbours`): every adjacent pair a free cell is part of was seen together at that
  position, with a fixed neighbour (a domain reduction) and with a free one (implication rows between value classes);
- *the pairwise prior* (`prior_weight`, lambda): lambda * sum over adjacent pairs of log(count / N) joins the
  objective, an unseen pair counted as half a sighting;
- *a trust region* (`trust_region`): at most `radius` of the t free cells change, the radius growing after successes
  and shrinking after failures (CASMOPOLITAN, Wan et al. 2021), replayed from the queries' scores so a resumed run
  gets the same radius.

The base code is always admitted, so every guarded program is feasible. `mio.pruned_program` builds them exactly:
values the guards tell apart are never one value class.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..code_support import CodeSupport

#: The trust region grows by one cell after this many successes in a row (a query above every label before it) ...
SUCCESS_STREAK = 2
#: ... and shrinks by one after this many failures in a row; below one cell it starts again at ceil(t / 2).
FAILURE_STREAK = 10


@dataclass(frozen=True)
class ManifoldGuard:
    """Which guards a search uses; the default guards nothing (the paper's MIO)."""

    min_count: int = 0  # supported codes: seen at least this often at the cell (0: any code)
    neighbours: bool = False  # compatible neighbours: every adjacent pair seen together at its position
    prior_weight: float = 0.0  # lambda of the pairwise log-frequency prior (0: none)
    trust_region: bool = False  # at most `trust_radius` cells change

    def __post_init__(self):
        if not isinstance(self.min_count, int) or self.min_count < 0:
            raise ValueError(f"min_count (supported codes) must be an integer >= 0, got {self.min_count!r}")
        if not math.isfinite(self.prior_weight) or self.prior_weight < 0:
            raise ValueError(f"prior_weight (lambda) must be a finite number >= 0, got {self.prior_weight!r}")

    @property
    def active(self) -> bool:
        return self != ManifoldGuard()

    @property
    def needs_support(self) -> bool:
        """Whether the program reads the data's code counts (the trust region alone does not)."""
        return self.min_count > 0 or self.neighbours or self.prior_weight > 0

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        parts = [f"codes seen >= {self.min_count} times at their cell"] if self.min_count else []
        parts += ["neighbours seen together"] if self.neighbours else []
        parts += [f"pairwise log-frequency prior, lambda = {self.prior_weight:g}"] if self.prior_weight else []
        parts += ["an adaptive trust region on the changed cells"] if self.trust_region else []
        return "; ".join(parts) or "no guard (the paper's MIO)"


def trust_radius(free_cells: int, query_values: np.ndarray, best_before: float) -> int:
    """The trust region's radius for the next query, replayed from the queries so far (their scores in order) and the
    best label of the data before the first of them."""
    start = math.ceil(free_cells / 2)
    radius, successes, failures, best = start, 0, 0, best_before
    for value in np.asarray(query_values, dtype=np.float64):
        if value > best:
            best, successes, failures = value, successes + 1, 0
        else:
            successes, failures = 0, failures + 1
        if successes == SUCCESS_STREAK:
            radius, successes = min(free_cells, radius + 1), 0
        elif failures == FAILURE_STREAK:
            radius, failures = radius - 1, 0
            if radius < 1:
                radius = start
    return radius


def allowed_values(guard: ManifoldGuard, support: CodeSupport, base: np.ndarray, f: int, cells: set[int]) -> np.ndarray:
    """The codes free cell f may take: seen often enough at f, and seen beside each fixed neighbour's code; always
    the base's own code."""
    allowed = np.ones(support.num_codes, dtype=bool)
    if guard.min_count:
        allowed &= support.cell_counts.reshape(-1, support.num_codes)[f] >= guard.min_count
    if guard.neighbours:
        for g, counts in support.neighbours(f):
            if g not in cells:
                allowed &= counts[:, base[g]] > 0
    allowed[base[f]] = True
    return allowed


def fixed_prior(guard: ManifoldGuard, support: CodeSupport, base: np.ndarray, f: int, cells: set[int]) -> np.ndarray:
    """lambda * the log-frequency of each code of free cell f beside its fixed neighbours' codes (one term per
    value)."""
    score = np.zeros(support.num_codes)
    for g, counts in support.neighbours(f):
        if g not in cells:
            score += support.log_frequency(counts[:, base[g]])
    return guard.prior_weight * score


def fixed_pairs_prior(guard: ManifoldGuard, support: CodeSupport, base: np.ndarray, cells: set[int]) -> float:
    """lambda * the log-frequency of the adjacent pairs whose cells are both fixed: a constant of the program."""
    total = 0.0
    for f in range(base.size):
        for g, counts in support.neighbours(f):
            if f < g and f not in cells and g not in cells:
                total += float(support.log_frequency(counts[base[f], base[g]]))
    return guard.prior_weight * total


def couples(guard: ManifoldGuard) -> bool:
    """Whether adjacent free cells are coupled (hard or soft), so their codes' pair counts tell codes apart."""
    return guard.neighbours or guard.prior_weight > 0


def check_guarded(guard: ManifoldGuard, support: CodeSupport | None, base: np.ndarray, code: np.ndarray,
                  max_changed: int | None) -> str | None:
    """What a guarded solution breaks, or None: a code the guards do not admit, a pair never seen, too many changes."""
    changed = np.flatnonzero(code != base)
    if max_changed is not None and len(changed) > max_changed:
        return f"{len(changed)} cells changed, the trust region allows {max_changed}"
    if support is None:
        return None
    counts = support.cell_counts.reshape(-1, support.num_codes)
    rare = [int(f) for f in changed if counts[f, code[f]] < guard.min_count]
    if rare:
        return f"cells {rare} hold codes seen fewer than {guard.min_count} times there"
    if guard.neighbours and support.unseen_pairs(code):
        return f"{support.unseen_pairs(code)} adjacent pairs were never seen together"
    return None
