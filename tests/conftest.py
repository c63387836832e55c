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

