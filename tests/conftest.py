"""Test-session settings (never library defaults)."""

import os
import sys

import pytest

try:
    from hypothesis import settings
except ImportError:  # hypothesis is a dev dependency; its tests skip without it
    settings = None
else:
    # In CI, property tests draw the same examples on every run (a failure there is then
    # reproducible, and a green run does not depend on luck); locally they explore.
    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
    if os.environ.get("CI", "").lower() == "true":
        settings.load_profile("ci")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run torch on one thread in every test that has it loaded.

    Tiny test networks run fastest on one thread, and with ``pytest -n 2`` on 2 cores two
    threads per worker oversubscribe the CPU. Set per test, since libraries sharing the OpenMP
    runtime may change it. Torch is never imported here for tests that do not use it.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """One BLAS thread per test process: with ``pytest -n 2`` on 2 cores, each worker's BLAS
    pool would otherwise spin on both cores and the workers slow each other down."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
