import numpy as np
import pytest
import torch

from happy_utils.scorers import fid
from happy_utils.scorers.loading import load_scorers


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 4))
    assert fid.frechet(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = fid.frechet(a, a + np.array([2.0, 0, 0, 0]))
    assert shifted == pytest.approx(4.0, rel=1e-6)  # |mu1 - mu2|^2 with equal covariances
    with pytest.raises(ValueError, match="at least 2 images"):
        fid.frechet(a[:1], a)


def test_without_inception_weights_the_judge_features_are_used_and_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    extractor = fid.features(load_scorers("synthetic"))
    assert "judge features" in extractor.name and "InceptionV3 weights absent" in extractor.name
    feats = extractor(torch.randint(0, 256, (5, 3, 64, 64), dtype=torch.uint8))
    assert feats.shape == (5, 128) and np.isfinite(feats).all()
    table = fid.fid_table({"a": torch.rand(6, 3, 64, 64)}, {"x": torch.rand(6, 3, 64, 64),
                                                             "y": torch.zeros(6, 3, 64, 64)}, extractor)
    assert set(table) == {"a"} and set(table["a"]) == {"x", "y"} and table["a"]["y"] > table["a"]["x"]


def test_cached_inception_weights_are_used_offline(tmp_path, monkeypatch):
    """A randomly initialised FID InceptionV3 saved where pytorch-fid caches the real one: loaded, not downloaded."""
    import pytorch_fid.inception as inception

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: None)
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", lambda self, state, *a, **k: None)
    random_net = inception.fid_inception_v3()  # the architecture, no weights loaded
    monkeypatch.undo()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    fid.inception_weights().parent.mkdir(parents=True)
    torch.save(random_net.state_dict(), fid.inception_weights())

    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    extractor = fid.features(load_scorers("synthetic"))
    assert extractor.name.startswith("InceptionV3")
    assert extractor(torch.rand(2, 3, 64, 64)).shape == (2, 2048)
