"""Shared fixtures: every test writes caches and runs into its own temporary folders."""

import pytest


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path, monkeypatch):
    """Caches and runs go to a fresh temporary folder; shipped data (oracle weights) is read from data/ as usual."""
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HAPPY_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("HAPPY_PRESET", raising=False)
    monkeypatch.delenv("HAPPY_SOURCE", raising=False)
    return tmp_path


def pytest_configure(config):
    """Under pytest-xdist each worker gets one thread (and so do the notebook kernels it starts): two workers with two
    threads each on two cores were several times slower than one each."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)
