"""Interactive explorers (core ipywidgets): one query from any training face and t, and a finished run's queries.

Why: a learner understands the MIO's edit by trying faces and t, and a run by looking at its best queries, which
no table shows. Solves are cached (a slider moved back is instant), sliders act on release
(`continuous_update=False`), and the first result is drawn as an ordinary figure above the widgets, so that nbmake
and a static view (the docs) show it too; a slider's result appears below them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from . import plotting
from .code_support import CodeSupport
from .loop import Query, query
from .proposers.manifold import ManifoldGuard
from .proposers.mio import MIOProposer
from .scorers.base import SmileScorer
from .scorers.realism import RealismJudge
from .surrogates.trees import TreeSurrogate


@dataclass
class QueryView:
    """What the explorer shows of one query: the decoded base and query, the free and changed cells, the scores."""

    query: Query
    cells: np.ndarray  # (8, 8) bool: the free_cells (t) cells the MIO may change
    judge: float | None
    realism: tuple[float, bool, float] | None  # error, passes, true degree of the re-render


def view_query(generator, rows: np.ndarray, surrogate: TreeSurrogate, oracle: SmileScorer, index: int, free_cells: int,
               judge: SmileScorer | None = None, realism: RealismJudge | None = None, time_limit: float = 60.0,
               n_trees: int = 800, guard: ManifoldGuard | None = None, support: CodeSupport | None = None
               ) -> QueryView:
    """The loop's own query (`loop.query`) from training code `index` with `free_cells` (t) free cells, and every
    score of it; with a `guard`, within what `support` (the training faces' code counts, the base's among them)
    admits."""
    proposer = MIOProposer(free_cells=free_cells, n_trees=n_trees, seed=0, time_limit=time_limit, guard=guard)
    base = np.asarray(rows[index])
    q = query(generator, index, base, proposer.solve(surrogate, base, support), oracle, judge)
    cells = np.isin(np.arange(64), surrogate.top_cells(free_cells)).reshape(8, 8)
    checked = None
    if realism is not None:
        report = realism.assess(q.images[1:])
        checked = (float(report.error[0]), bool(report.passed[0]), float(report.true_degree[0]))
    return QueryView(query=q, cells=cells, judge=q.judge, realism=checked)


def draw_query(v: QueryView) -> plt.Figure:
    """The training face with its free cells outlined, the query with the cells the MIO changed, and the scores."""
    q = v.query
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.6))
    plotting.code_map(q.images[0], ax=axes[0], outline=v.cells,
                      title=f"face {q.base_index}: f = {q.scores[0]:.2f}\n{int(v.cells.sum())} free cells")
    scores = [f"oracle {q.score:.2f}"] + ([f"judge {v.judge:.2f}"] if v.judge is not None else [])
    if v.realism is not None:
        error, passed, degree = v.realism
        scores.append(f"realism {'pass' if passed else 'FAIL'} ({error:.3f}), true s {degree:.2f}")
    plotting.code_map(q.image, ax=axes[1], outline=q.changed,
                      title=f"query: {int(q.changed.sum())} cells changed\n" + ", ".join(scores[:2]))
    if len(scores) > 2:
        fig.supxlabel(scores[2], fontsize=9)
    fig.tight_layout()
    return fig


def _show(fig: plt.Figure) -> None:
    """Display a figure as an output of its own (in a widget's output area or the cell) and release it."""
    display(fig)
    plt.close(fig)


def query_explorer(solve: Callable[[int, int], QueryView], n_faces: int, index: int, free_cells: int
                   ) -> widgets.Widget:
    """Sliders for the training face and t over `solve(index, t)` (cached); the first result is drawn eagerly."""
    cached = functools.lru_cache(maxsize=256)(solve)
    _show(draw_query(cached(index, free_cells)))
    out = widgets.Output()
    face = widgets.IntSlider(value=index, min=0, max=n_faces - 1, description="face", continuous_update=False)
    count = widgets.IntSlider(value=free_cells, min=1, max=16, description="free cells t", continuous_update=False)

    def update(_=None) -> None:
        with out:
            out.clear_output(wait=True)
            _show(draw_query(cached(face.value, count.value)))

    face.observe(update, names="value")
    count.observe(update, names="value")
    box = widgets.VBox([widgets.HBox([face, count]), out])
    display(box)
    return box


def run_browser(records: list[dict], images: torch.Tensor, title: str = "") -> widgets.Widget:
    """A finished run's queries ranked by the oracle's score: a slider over the ranks, the face and its record.
    The best query is drawn eagerly."""
    order = np.argsort([-r["score"] for r in records], kind="stable")

    def draw(rank: int) -> plt.Figure:
        r = records[int(order[rank])]
        changed = (np.asarray(r["code"]) != np.asarray(r["base_code"])).reshape(8, 8)
        judge = f", judge {r['judge']:.2f}" if r.get("judge") is not None else ""
        fig, ax = plt.subplots(figsize=(3.4, 3.6))
        plotting.code_map(images[int(order[rank])], ax=ax, outline=changed,
                          title=f"{title}rank {rank + 1} of {len(records)}: query {r['index']}\n"
                                f"oracle {r['score']:.2f}{judge} (start {r['base_score']:.2f})")
        fig.tight_layout()
        return fig

    _show(draw(0))
    out = widgets.Output()
    rank = widgets.IntSlider(value=0, min=0, max=len(records) - 1, description="rank", continuous_update=False)

    def update(_=None) -> None:
        with out:
            out.clear_output(wait=True)
            _show(draw(rank.value))

    rank.observe(update, names="value")
    box = widgets.VBox([rank, out])
    display(box)
    return box
