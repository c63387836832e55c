"""Shared fixtures: every test writes caches and runs into its own temporary folders."""

import pytest


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path, monkeypatch):
    """Caches and runs go to a fresh temporary folder; shipped data (oracle weights) is read from data/ as usual."""
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HAPPY_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("HAPPY_PRESET", raising=False)
    monkeypatch.delenv("HAPPY_SOURCE", raising=False)
    monkeypatch.delenv("HAPPY_CELEBA_DIR", raising=False)
    return tmp_path



@pytest.fixture(scope="module")
def oracle():
    """The synthetic world's shipped black box."""
    from happy_utils.scorers.loading import load_scorer

    return load_scorer("oracle")


@pytest.fixture(scope="module")
def latent(oracle):
    """The tiny loop's restricted faces, VQ-VAE, codes and labels (`loop_fixture`)."""
    from loop_fixture import tiny_latent

    return tiny_latent(oracle)
