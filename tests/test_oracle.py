import shutil

import pytest
import torch

from happy_utils.config import get_paths
from happy_utils.data.faces import render_faces
from happy_utils.files import write_checksum
from happy_utils.scorers import synthetic
from happy_utils.scorers.base import LEVELS, oracle_metrics
from happy_utils.scorers.loading import SHIPPED, evaluate_scorers, load_scorer

# Seeds that neither shipped scorer saw in training (training seeds are 1000-1999 and 2000-2999).
FRESH_SEED = 424_242


@pytest.fixture(scope="module")
def fresh_faces():
    return render_faces(1000, FRESH_SEED, progress=False)


@pytest.mark.parametrize("which", ["oracle", "judge"])
def test_shipped_scorers_meet_quality_targets(which, fresh_faces):
    scorer = load_scorer(which)
    assert FRESH_SEED not in scorer.meta["data_seeds"]
    scores = scorer.score(fresh_faces.images)
    m = oracle_metrics(scores, fresh_faces.labels, fresh_faces.degree)
    assert m["exact_acc"] >= 0.85 and m["within_one_acc"] >= 0.99 and m["mae"] <= 0.30, m
    assert scores.degree.shape == (1000,) and scores.probs.shape == (1000, 6)
    torch.testing.assert_close(scores.probs.sum(dim=1), torch.ones(1000))
    assert 0 <= scores.degree.min() and scores.degree.max() <= 5


def test_judge_is_independent_of_the_oracle(fresh_faces):
    o, j = load_scorer("oracle"), load_scorer("judge")
    assert not set(o.meta["data_seeds"]) & set(j.meta["data_seeds"])  # never saw one face in common
    assert o.meta["seed"] != j.meta["seed"]
    # Two different functions: they agree on faces (both read the smile) but not on what no face looks like.
    faces = fresh_faces.images[:200]
    assert (o.score(faces).degree - j.score(faces).degree).abs().mean() < 0.15
    noise = torch.rand(200, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert (o.score(noise).degree - j.score(noise).degree).abs().mean() > 0.3


def test_uint8_and_float_inputs_agree(fresh_faces):
    scorer = load_scorer("oracle")
    a = scorer.score(fresh_faces.images[:20]).degree
    b = scorer.score(fresh_faces.float_images()[:20]).degree
    torch.testing.assert_close(a, b)


def test_bad_input_gets_clear_errors():
    scorer = load_scorer("oracle")
    with pytest.raises(ValueError, match=r"shape \(N, 3, 64, 64\)"):
        scorer.score(torch.rand(2, 64, 64, 3))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        scorer.score(torch.rand(2, 3, 64, 64) * 2 - 1)
    with pytest.raises(ValueError, match="float in"):
        scorer.score(torch.zeros(2, 3, 64, 64, dtype=torch.int32))
    with pytest.raises(TypeError, match="torch tensor"):
        scorer.score([[0.0]])
    with pytest.raises(ValueError, match="valid: oracle, judge"):
        load_scorer("critic")


def test_checksums_guard_the_shipped_weights(tmp_path):
    src = load_scorer  # the shipped file lives in data/
    shipped = get_paths().data / SHIPPED["oracle"][0]
    copy = tmp_path / shipped.name
    shutil.copy(shipped, copy)
    with pytest.raises(FileNotFoundError, match="no checksum"):
        src("oracle", path=copy)
    write_checksum(copy)
    assert src("oracle", path=copy).meta["arch"] == "oracle"
    raw = bytearray(copy.read_bytes())
    raw[-100] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="does not match its checksum"):
        src("oracle", path=copy)
    with pytest.raises(FileNotFoundError, match="train-oracle"):
        src("oracle", path=tmp_path / "missing.pt")


def test_soft_targets_keep_the_degree():
    degree = torch.tensor([0.0, 0.3, 2.49, 2.5, 4.8, 5.0])
    t = synthetic.soft_targets(degree)
    torch.testing.assert_close(t.sum(dim=1), torch.ones(6))
    torch.testing.assert_close(t @ LEVELS, degree)
    assert t.argmax(dim=1).tolist()[:3] == [0, 0, 2] and t.argmax(dim=1)[-1] == 5


def test_training_lowers_the_loss_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    kwargs = dict(images_per_epoch=256, epochs=3, batch_size=64, valid_size=64)
    full = synthetic.train_scorer("oracle", 5, out=tmp_path / "full.pt", **kwargs)
    losses = [h["loss"] for h in full["meta"]["history"]]
    assert losses[-1] < losses[0]

    calls = {"n": 0}
    real_render = synthetic.render_faces

    def crash_in_third_epoch(*args, **kw):  # the validation set and two epochs render, then the "machine dies"
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_render(*args, **kw)

    monkeypatch.setattr(synthetic, "render_faces", crash_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        synthetic.train_scorer("oracle", 5, out=tmp_path / "resumed.pt", **kwargs)
    partial = torch.load(tmp_path / "resumed.pt.partial", weights_only=False)
    assert partial["epoch"] == 2
    monkeypatch.setattr(synthetic, "render_faces", real_render)
    resumed = synthetic.train_scorer("oracle", 5, out=tmp_path / "resumed.pt", **kwargs)
    assert not (tmp_path / "resumed.pt.partial").exists()
    assert resumed["meta"]["history"] == full["meta"]["history"]
    for key, value in full["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value)
    net = load_scorer("oracle", path=tmp_path / "resumed.pt", verify=False)
    assert net.score(torch.rand(3, 3, 64, 64)).degree.shape == (3,)


def test_evaluation_refuses_a_training_seed():
    with pytest.raises(ValueError, match="was used to train"):
        evaluate_scorers(seed=1000, n=10)
