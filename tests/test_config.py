import ast
import json
from pathlib import Path

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
    with pytest.raises(ValueError, match="'celba'"):
        config.get_source("celba")


def test_a_source_resolves_to_its_member_from_argument_environment_or_default(monkeypatch):
    monkeypatch.delenv("HAPPY_SOURCE", raising=False)
    assert config.get_source() is config.Source.SYNTHETIC
    monkeypatch.setenv("HAPPY_SOURCE", "celeba")
    assert config.get_source() is config.Source.CELEBA
    assert config.get_source("synthetic") is config.get_source(config.Source.SYNTHETIC) is config.Source.SYNTHETIC
    assert f"{config.Source.CELEBA}" == "celeba" and json.dumps(config.Source.CELEBA) == '"celeba"'  # records, keys


#: Where a preset or source name may be resolved: the resolvers, a notebook's setup cell, the command line's edge.
EDGES = {"config", "artifacts", "experiments.cli", "experiments.spec", "experiments.claims", "experiments.bench"}
RESOLVERS = {"get_preset", "get_source", "setup"}


def test_names_are_resolved_at_the_edges_only():
    """Below the edges (the data, the scorers, the loop, the stages of a run) a preset and a source arrive resolved:
    nothing there resolves or checks a name again."""
    package = Path(config.__file__).parent
    resolving = set()
    for path in package.rglob("*.py"):
        called = {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                  for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)}
        if called & RESOLVERS:
            resolving.add(".".join(path.relative_to(package).with_suffix("").parts))
    assert resolving <= EDGES, f"resolved below the edges: {sorted(resolving - EDGES)}"
    assert {"config", "artifacts", "experiments.spec"} <= resolving  # the scan sees the edges it knows


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
