"""A mixed-integer linear program held in arrays, solved directly by HiGHS (highspy) or Gurobi (gurobipy).

Why: the pruned tree MIO has a couple of thousand variables and is solved at every query. Through Pyomo, building
the expressions and handing them to the solver took most of its time (measured with `bench mio`); the program's
structure is simple (one-hot rows, leaf rows, split rows), so it is written as columns and sparse rows once and
passed to the solver in one call. ENTMOOT's full model (`solve_full`) stays a Pyomo model: ENTMOOT builds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..surrogates.entmoot_compat import SolveOutcome

INF = float("inf")


@dataclass
class Program:
    """maximise offset + cost . x subject to row_lower <= A x <= row_upper, lower <= x <= upper, some x integer."""

    offset: float = 0.0
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    row_index: list[list[int]] = field(default_factory=list)
    row_value: list[list[float]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # of the columns, for reading the program

    @property
    def n_columns(self) -> int:
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        return len(self.row_lower)

    def columns(self, n: int, lower: float, upper: float, integer: bool, names: list[str] | None = None
                ) -> list[int]:
        """Add n columns with these bounds (objective 0), named `names` (default x<index>); their indices."""
        first = self.n_columns
        self.names += names if names is not None else [f"x{first + i}" for i in range(n)]
        self.lower += [lower] * n
        self.upper += [upper] * n
        self.integer += [integer] * n
        self.cost += [0.0] * n
        return list(range(first, first + n))

    def row(self, terms: dict[int, float], lower: float, upper: float) -> None:
        """Add lower <= sum(coefficient * x[column]) <= upper; terms map column -> coefficient."""
        self.row_index.append(list(terms))
        self.row_value.append([float(v) for v in terms.values()])
        self.row_lower.append(float(lower))
        self.row_upper.append(float(upper))


    def __str__(self) -> str:
        """The program as a person reads it (LP-file style): objective, rows, then binaries and bounds."""
        def terms(pairs) -> str:
            text = " ".join(f"{'-' if v < 0 else '+'} {'' if abs(v) == 1 else f'{abs(v):g} '}{self.names[c]}"
                            for c, v in pairs)
            return text.removeprefix("+ ")

        objective = terms((c, v) for c, v in enumerate(self.cost) if v)
        lines = [f"maximise {f'{self.offset:g} + ' if self.offset else ''}{objective}", "subject to"]
        for index, value, lo, up in zip(self.row_index, self.row_value, self.row_lower, self.row_upper):
            body = terms(zip(index, value))
            lines.append(f"  {body} = {lo:g}" if lo == up else
                         f"  {body} <= {up:g}" if lo == -INF else f"  {lo:g} <= {body} <= {up:g}")
        binary = [n for n, i, lo, up in zip(self.names, self.integer, self.lower, self.upper)
                  if i and (lo, up) == (0, 1)]
        lines.append("binary " + " ".join(binary))
        lines += [f"  {lo:g} <= {n} <= {up:g}" for n, i, lo, up in zip(self.names, self.integer, self.lower, self.upper)
                  if not (i and (lo, up) == (0, 1))]
        return "\n".join(lines)


@dataclass
class Solution:
    outcome: SolveOutcome
    values: np.ndarray | None  # column values, when a solution was found


def solve(program: Program, solver: str, time_limit: float) -> Solution:
    """Solve to a zero relative gap within `time_limit` seconds; a solver's refusal is an outcome, never an error
    (`optimize` checks the solver's name before anything is built)."""
    return {"highs": _solve_highs, "gurobi": _solve_gurobi}[solver](program, time_limit)


def _csr(program: Program) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start = np.cumsum([0] + [len(r) for r in program.row_index])
    index = np.fromiter((i for r in program.row_index for i in r), dtype=np.int32, count=int(start[-1]))
    value = np.fromiter((v for r in program.row_value for v in r), dtype=np.float64, count=int(start[-1]))
    return start.astype(np.int32), index, value


def _missing(solver: str, package: str) -> Solution:
    return Solution(SolveOutcome("error", False, None, None, 0.0,
                                 f"solver {solver} is not available: pip install {package}"), None)


def _solve_highs(program: Program, time_limit: float) -> Solution:
    try:
        import highspy
    except ImportError:
        return _missing("highs", "highspy")
    from pyomo.common.tee import capture_output

    start = time.perf_counter()
    with capture_output(capture_fd=True):  # the banner HiGHS prints on its first construction in a process
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = program.n_columns, program.n_rows
    lp.col_cost_, lp.offset_ = np.asarray(program.cost, dtype=np.float64), float(program.offset)
    lp.col_lower_, lp.col_upper_ = np.asarray(program.lower), np.asarray(program.upper)
    lp.row_lower_, lp.row_upper_ = np.asarray(program.row_lower), np.asarray(program.row_upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = _csr(program)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in program.integer]
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    names = {highspy.HighsModelStatus.kOptimal: "optimal", highspy.HighsModelStatus.kTimeLimit: "time_limit",
             highspy.HighsModelStatus.kInfeasible: "infeasible", highspy.HighsModelStatus.kUnbounded: "unbounded",
             highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
             highspy.HighsModelStatus.kIterationLimit: "iteration_limit"}
    info = h.getInfo()
    found = info.primal_solution_status == 2  # kSolutionStatusFeasible
    seconds = time.perf_counter() - start
    outcome = SolveOutcome(names.get(status, h.modelStatusToString(status)), found,
                           info.objective_function_value if found else None,
                           info.mip_dual_bound if found else None, seconds, "")
    return Solution(outcome, np.asarray(h.getSolution().col_value) if found else None)


def _solve_gurobi(program: Program, time_limit: float) -> Solution:
    try:
        import gurobipy as gp
    except ImportError:
        return _missing("gurobi", "gurobipy")
    import scipy.sparse as sp

    lower, upper = np.asarray(program.row_lower), np.asarray(program.row_upper)
    equal = lower == upper
    if np.isfinite(lower[~equal]).any():
        raise ValueError("gurobi: rows are either equalities or <= rows (a finite lower bound was given)")
    start = time.perf_counter()
    try:
        env = gp.Env(empty=True)
        env.setParam("OutputFlag", 0)
        env.start()
        m = gp.Model(env=env)
        m.Params.TimeLimit, m.Params.MIPGap = float(time_limit), 0.0
        x = m.addMVar(program.n_columns, lb=program.lower, ub=program.upper,
                      vtype=[gp.GRB.BINARY if i and lo == 0 and up == 1 else gp.GRB.INTEGER if i else
                             gp.GRB.CONTINUOUS for i, lo, up in zip(program.integer, program.lower, program.upper)])
        a = sp.csr_matrix(_csr(program)[::-1], shape=(program.n_rows, program.n_columns))
        m.addMConstr(a[equal], x, "=", upper[equal])
        m.addMConstr(a[~equal], x, "<", upper[~equal])
        m.setObjective(gp.LinExpr(program.cost, x.tolist()) + program.offset, gp.GRB.MAXIMIZE)
        m.optimize()
    except gp.GurobiError as err:  # e.g. Model too large for size-limited license
        return Solution(SolveOutcome("error", False, None, None, time.perf_counter() - start, f"gurobi: {err}"), None)
    names = {gp.GRB.OPTIMAL: "optimal", gp.GRB.TIME_LIMIT: "time_limit", gp.GRB.INFEASIBLE: "infeasible",
             gp.GRB.UNBOUNDED: "unbounded", gp.GRB.INF_OR_UNBD: "infeasible_or_unbounded"}
    found = m.SolCount > 0
    outcome = SolveOutcome(names.get(m.Status, str(m.Status)), found, m.ObjVal if found else None,
                           m.ObjBound if found else None, time.perf_counter() - start, "")
    return Solution(outcome, np.asarray(x.X) if found else None)
