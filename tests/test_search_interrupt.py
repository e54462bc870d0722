"""Ctrl-C stops a long search promptly and leaves the index as it was.

Each test runs a search that would take tens of seconds in a child process, sends it
SIGINT half a second in, and measures how long the child takes to raise KeyboardInterrupt.
The target is a second on an idle machine (searches run in batches of bounded cost, and
Python takes the signal between them); the bound asserted is generous, for loaded test
machines.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")

BOUND_SECONDS = 10  # generous: the target is 1 s on an idle machine

CHILD = """
import sys, time
import numpy as np
from skhash.index import HammingIndex

backend, kind, n, n_bits, n_queries, arg = sys.argv[1:7]
n, n_bits, n_queries, arg = int(n), int(n_bits), int(n_queries), int(arg)
rng = np.random.default_rng(0)
codes = rng.integers(0, 256, size=(n, n_bits // 8), dtype=np.uint8)
index = HammingIndex(backend=backend).fit(codes, packed=True)
probe = codes[:3]
before = index.kneighbors(probe, 2, packed=True)
search = index.kneighbors if kind == "knn" else index.radius_neighbors
search(codes[:8], arg, packed=True)  # compiles (or loads) what the search runs
state = (index.n_indexed_, index.nbytes, index.n_bits_)
print("searching", flush=True)
try:
    search(codes[:n_queries], arg, packed=True)
    print("finished", flush=True)
except KeyboardInterrupt:
    stopped = time.time()
    after = index.kneighbors(probe, 2, packed=True)
    same = state == (index.n_indexed_, index.nbytes, index.n_bits_) and all(
        (a == b).all() for a, b in zip(before, after)
    )
    print(f"interrupted {stopped!r} {same}", flush=True)
"""


def _interrupt(tmp_path, *args):
    """Seconds from SIGINT to KeyboardInterrupt in a child searching with ``args``, and
    whether its index was unchanged afterwards."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    child = subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout.readline().strip() == "searching"
        time.sleep(0.5)
        sent = time.time()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().split()
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert line and line[0] == "interrupted", f"the child answered {line}"
    return float(line[1]) - sent, line[2] == "True"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "kind", "n", "n_bits", "n_queries", "arg"),
    [
        # issue 22's cases (smaller databases, as long to search): the numba scan, multi-
        # index hashing with a k that makes each query cost about a scan, numpy
        ("numba", "knn", 300_000, 256, 200_000, 10),
        ("numba", "radius", 300_000, 256, 200_000, 100),
        ("mih", "knn", 200_000, 64, 200_000, 50),
        ("mih", "radius", 200_000, 64, 200_000, 12),
        ("numpy", "knn", 100_000, 256, 100_000, 10),
    ],
)
def test_ctrl_c_stops_a_long_search(tmp_path, backend, kind, n, n_bits, n_queries, arg):
    seconds, unchanged = _interrupt(tmp_path, backend, kind, n, n_bits, n_queries, arg)
    assert seconds < BOUND_SECONDS, f"KeyboardInterrupt {seconds:.1f} s after SIGINT"
    assert unchanged
