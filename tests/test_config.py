import matplotlib as mpl
import numpy as np
import pytest
import torch

from happy_utils import config


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ValueError) as err:
        config.get_preset("huge")
    for name in ("smoke", "laptop", "paper"):
        assert name in str(err.value)


def test_preset_from_environment_and_default(monkeypatch):
    assert config.get_preset().name == "laptop"
    monkeypatch.setenv("HAPPY_PRESET", "smoke")
    assert config.get_preset().name == "smoke"
    assert config.get_preset("paper").name == "paper"
    monkeypatch.setenv("HAPPY_PRESET", "nope")
    with pytest.raises(ValueError, match="HAPPY_PRESET"):
        config.get_preset()


def test_presets_name_the_same_knobs_and_grow():
    smoke, laptop, paper = (config.PRESETS[n] for n in ("smoke", "laptop", "paper"))
    assert smoke.as_dict().keys() == paper.as_dict().keys()
    for knob in ("train_size", "vqvae_width", "vqvae_epochs", "surrogate_trees", "budget", "n_seeds"):
        assert getattr(smoke, knob) < getattr(laptop, knob) <= getattr(paper, knob)
    assert paper.vqvae_width == 64 and paper.vqvae_epochs == 70 and paper.budget == 500 and paper.n_seeds == 20


def test_unknown_source_is_an_error(monkeypatch):
    monkeypatch.setenv("HAPPY_SOURCE", "imagenet")
    with pytest.raises(ValueError, match="synthetic, celeba"):
        config.get_source()


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HAPPY_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("HAPPY_CACHE_DIR")
    paths = config.get_paths()
    assert paths.data == tmp_path / "d" and paths.cache == tmp_path / "d" / "cache"
    monkeypatch.delenv("HAPPY_DATA_DIR")
    monkeypatch.delenv("HAPPY_RUNS_DIR")
    root = config.repo_root()
    assert (root / "pyproject.toml").exists()
    assert config.get_paths().data == root / "data" and config.get_paths().runs == root / "runs"


def test_setup_seeds_everything_and_sets_style():
    cfg = config.setup("smoke", seed=3)
    a = (np.random.rand(), torch.rand(1).item())
    config.setup("smoke", seed=3)
    assert (np.random.rand(), torch.rand(1).item()) == a
    assert cfg.name == "smoke"
    assert mpl.rcParams["axes.spines.top"] is False
