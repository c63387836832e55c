"""Interactive explorers (core ipywidgets): one query from any training face and t, and a finished run's queries.

Why: a learner understands the MIO's edit by trying faces and t, and a run by looking at its best queries, which
no table shows. Solves are cached (a slider moved back is instant), sliders act on release
(`continuous_update=False`), and the one figure is an ordinary output below the widgets, drawn at once (so that nbmake
and a static view, the docs, show it too) and replaced in place after every move: a stale figure never stays beside
the new one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import DisplayHandle, display

from . import plotting
from .code_support import CodeSupport
from .loop import Query, query
from .proposers.manifold import ManifoldGuard
from .proposers.mio import MIOProposer
from .records import RunDir
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


def _show(fig: plt.Figure, handle: DisplayHandle, first: bool) -> None:
    """Show a figure in the handle's output (the first displays it, every later one replaces it) and release it."""
    if first:
        handle.display(fig)
    else:
        handle.update(fig)
    plt.close(fig)


def query_explorer(solve: Callable[[int, int], QueryView], n_faces: int, index: int, free_cells: int
                   ) -> widgets.Widget:
    """Sliders for the training face and t over `solve(index, t)` (cached), and below them one figure: the first
    result at once, each move's in its place."""
    cached = functools.lru_cache(maxsize=256)(solve)
    face = widgets.IntSlider(value=index, min=0, max=n_faces - 1, description="face", continuous_update=False)
    count = widgets.IntSlider(value=free_cells, min=1, max=16, description="free cells t", continuous_update=False)
    handle = DisplayHandle()

    def update(_=None, first: bool = False) -> None:
        _show(draw_query(cached(face.value, count.value)), handle, first)

    face.observe(update, names="value")
    count.observe(update, names="value")
    box = widgets.VBox([widgets.HBox([face, count])])
    display(box)
    update(first=True)
    return box


def read_run(folder: Path) -> tuple[list[dict], torch.Tensor]:
    """A run's records and query images, read without writing; the records of a run still going are cut to the
    queries its saved state holds images of."""
    run = RunDir.existing(folder)
    images = run.load_state()["query_images"]
    return run.records()[:len(images)], images


def run_browser(load: Callable[[str, int], tuple[list[dict], torch.Tensor]], seeds: Mapping[str, Sequence[int]]
                ) -> widgets.Widget:
    """Runs' queries ranked by the oracle's score: dropdowns pick the variant and the seed (`load(variant, seed)`:
    its records and images, e.g. `read_run`), a slider the rank; below them one figure, the first run's best query at
    once, each move's in its place."""
    loaded = functools.lru_cache(maxsize=None)(load)
    variant = widgets.Dropdown(options=list(seeds), description="variant")
    seed = widgets.Dropdown(options=list(seeds[variant.value]), description="seed")
    rank = widgets.IntSlider(value=0, min=0, max=0, description="rank", continuous_update=False)
    handle = DisplayHandle()
    shown: tuple | None = None  # the (variant, seed, rank) on show: none before the first figure

    def draw(_=None) -> None:
        nonlocal shown
        if seed.value is None:  # between a new variant's options and its first seed
            return
        records, images = loaded(variant.value, seed.value)
        rank.max = len(records) - 1
        wanted = (variant.value, seed.value, rank.value)
        if wanted == shown:
            return
        first, shown = shown is None, wanted
        order = np.argsort([-r["score"] for r in records], kind="stable")
        r = records[int(order[rank.value])]
        changed = (np.asarray(r["code"]) != np.asarray(r["base_code"])).reshape(8, 8)
        judge = f", judge {r['judge']:.2f}" if r.get("judge") is not None else ""
        fig, ax = plt.subplots(figsize=(3.4, 3.6))
        plotting.code_map(images[int(order[rank.value])], ax=ax, outline=changed,
                          title=f"{variant.value}, seed {seed.value}: rank {rank.value + 1} of {len(records)}, "
                                f"query {r['index']}\noracle {r['score']:.2f}{judge} (start {r['base_score']:.2f})")
        fig.tight_layout()
        _show(fig, handle, first)

    def pick_variant(_=None) -> None:
        seed.options = list(seeds[variant.value])
        draw()

    variant.observe(pick_variant, names="value")
    seed.observe(draw, names="value")
    rank.observe(draw, names="value")
    box = widgets.VBox([widgets.HBox([variant, seed]), rank])
    display(box)
    draw()
    return box
