import numpy as np
import pytest
import torch

from happy_utils import explorer
from happy_utils.data.faces import render_faces
from happy_utils.generators.vqvae import VQVAE, VQVAEConfig, train_vqvae
from happy_utils.scorers.loading import load_realism, load_scorer
from happy_utils.surrogates.trees import fit_trees


@pytest.fixture(scope="module")
def world():
    oracle = load_scorer("oracle")
    faces = render_faces(300, seed=41, progress=False).restricted()
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(width=8))
    train_vqvae(vq, faces.images, epochs=2, batch_size=16, progress=False)
    rows = vq.encode(faces.images).reshape(len(faces), -1).numpy()
    surrogate = fit_trees(rows, oracle.score(faces.images).degree.numpy(), n_trees=30)
    return vq, rows, surrogate, oracle


def test_a_viewed_query_changes_only_free_cells_and_carries_every_score(world):
    vq, rows, surrogate, oracle = world
    view = explorer.view_query(vq, rows, surrogate, oracle, index=5, free_cells=4, judge=load_scorer("judge"),
                               realism=load_realism("synthetic"), n_trees=30)
    assert view.cells.sum() == 4 and not (view.query.changed & ~view.cells).any()
    assert np.array_equal(view.query.base, rows[5]) and view.judge is not None
    error, passed, degree = view.realism
    assert error > 0 and isinstance(passed, bool) and 0 <= degree <= 5
    fig = explorer.draw_query(view)
    assert any("realism" in t.get_text() for t in fig.texts)


class _Handle:
    """A stand-in for IPython's DisplayHandle that records whether each figure was displayed or replaced one."""

    log: list[tuple[str, str]] = []

    def __init__(self):
        self.log.clear()

    def display(self, fig):
        self.log.append(("display", fig.axes[0].get_title()))

    def update(self, fig):
        self.log.append(("update", fig.axes[0].get_title()))


def test_the_explorer_draws_its_first_result_eagerly_and_replaces_it_after_a_move(world, monkeypatch):
    vq, rows, surrogate, oracle = world
    monkeypatch.setattr(explorer, "DisplayHandle", _Handle)
    calls = []

    def solve(index, t):
        calls.append((index, t))
        return explorer.view_query(vq, rows, surrogate, oracle, index, t, n_trees=30)

    box = explorer.query_explorer(solve, len(rows), index=2, free_cells=3)
    assert calls == [(2, 3)]  # drawn before any slider moves
    face, free = box.children[0].children
    assert not face.continuous_update and not free.continuous_update
    free.value = 5
    face.value = 9
    free.value = 3
    face.value = 2  # back to the first setting: cached
    assert calls == [(2, 3), (2, 5), (9, 5), (9, 3)]
    assert [kind for kind, _ in _Handle.log] == ["display"] + ["update"] * 4  # one figure, replaced in place


def test_the_run_browser_picks_variant_and_seed_and_ranks_queries_by_score(world, monkeypatch):
    vq, rows, _, _ = world
    monkeypatch.setattr(explorer, "DisplayHandle", _Handle)
    images = vq.decode(torch.from_numpy(rows[:3]).reshape(3, 8, 8))

    def load(variant, seed):
        scores = {("wr", 0): [0.3, 2.5, 1.0], ("wr", 1): [1.5, 0.2], ("none", 4): [0.7]}[variant, seed]
        return ([{"index": i, "score": s, "base_score": 0.1, "judge": None, "code": rows[i].tolist(),
                  "base_code": rows[i].tolist()} for i, s in enumerate(scores)], images[:len(scores)])

    box = explorer.run_browser(load, {"wr": [0, 1], "none": [4]})
    (variant, seed), rank = box.children[0].children, box.children[1]
    assert rank.max == 2 and not rank.continuous_update
    rank.value = 2
    seed.value = 1  # two queries: the rank falls back to the last
    variant.value = "none"
    titles = [title for _, title in _Handle.log]
    assert titles[0].startswith("wr, seed 0: rank 1 of 3, query 1") and titles[1].startswith("wr, seed 0: rank 3 of 3")
    assert titles[2].startswith("wr, seed 1: rank 2 of 2, query 1") and rank.max == 0 and seed.value == 4
    assert titles[-1].startswith("none, seed 4: rank 1 of 1, query 0")
    assert [kind for kind, _ in _Handle.log] == ["display"] + ["update"] * (len(titles) - 1)
