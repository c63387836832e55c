"""pytest settings for the unit tests and the notebooks (nbmake) alike."""

import os


def pytest_configure(config):
    """Under pytest-xdist each worker gets one thread, and so do the notebook kernels it starts: two workers with two
    threads each on two cores ran several times slower (OpenMP threads spin while they wait)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)
