"""Ctrl-C (SIGINT) stops the classic hashers' long operations promptly, changing nothing.

Each case runs in a child process: the operation repeats until a thread of the child sends
SIGINT to the process, 0.5 s in; the child reports how long the KeyboardInterrupt took to
arrive and whether the hasher was left as before the interrupted call (or, when the signal
came after the call had published its result, as after it: never in between). The bound asserted
(3 s) is generous, for loaded test machines; the measured latencies are in
docs/benchmarks.md (tens of milliseconds).
"""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals needed")

BOUND = 3.0  # seconds

_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import numpy as np
    import skhash

    name, method, n_fit, n_rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    params = {"n_bits": 32}
    if name in ("LSH", "ITQ", "KMeansHashing"):
        params["random_state"] = 0
    hasher = getattr(skhash, name)(**params)
    if n_fit:
        hasher.fit(rng.standard_normal((n_fit, 64)))
    X = rng.standard_normal((n_rows, 64))
    sent = []

    def interrupt():
        time.sleep(0.5)
        sent.append(time.perf_counter())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    def state():
        index = getattr(hasher, "index_", None)
        return (id(index), None if index is None else index.n_indexed_, len(vars(hasher)))

    threading.Thread(target=interrupt, daemon=True).start()
    calls = 0
    try:
        while True:  # repeated, so that the signal finds the operation running
            before = state()
            getattr(hasher, method)(X)
            calls += 1
    except KeyboardInterrupt:
        latency = time.perf_counter() - sent[0]
    after = state()
    # A signal that lands after the operation published its result (between its last
    # statement and the caller) leaves it complete; any other outcome must be the old state.
    n_before = 0 if before[1] is None else before[1]
    complete = {"add": n_before + n_rows, "fit": n_rows}.get(method)
    atomic = after == before or (complete is not None and after[1] == complete)
    print(json.dumps({"latency": latency, "atomic": atomic, "calls": calls}))
    """
)

CASES = [
    ("SpectralHashing", "fit", 0, 100_000),
    ("SpectralHashing", "add", 2_000, 200_000),
    ("KMeansHashing", "fit", 0, 50_000),
    ("KMeansHashing", "add", 2_000, 200_000),
    ("ITQ", "fit", 0, 100_000),
    ("ITQ", "add", 2_000, 200_000),
    ("PCAHashing", "transform", 2_000, 200_000),
    ("LSH", "add", 2_000, 200_000),
]


@pytest.mark.parametrize("name, method, n_fit, n_rows", CASES, ids=lambda v: str(v))
def test_ctrl_c_stops_long_operations(name, method, n_fit, n_rows):
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, name, method, str(n_fit), str(n_rows)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["latency"] < BOUND, report
    assert report["atomic"], report
