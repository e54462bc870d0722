"""Test-session settings (never library defaults)."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread_per_xdist_worker():
    """With ``pytest -n 2`` on 2 cores, two torch threads per worker oversubscribe the CPU."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
