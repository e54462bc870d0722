"""What indexing and a first search cost: issue 9's targets for HammingIndex.

1. ``fit`` on 5M x 64-bit codes: wall time and the extra memory it allocates (numpy
   allocations traced by ``tracemalloc``, peak over the input), for codes as uint8 bits (a
   hasher's ``transform``), with and without the value check, and packed (bytes, words).
   Target: under 1.5 s and under twice the input.
2. Cold start: a first kNN and a first radius search over digits-sized codes (1797 x 64,
   the database queried by itself) in a fresh process whose numba cache is an empty temporary
   directory. ``"auto"`` answers with the numpy scan and compiles nothing; ``"numba"`` is
   shown for comparison (it compiles its kernels). Target: under 1.5 s.

Run ``python benchmarks/hamming_costs.py`` (about a minute); results go to the
``hamming-costs`` section of docs/benchmarks.md.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import environment, write_section  # noqa: E402

from skhash.index import HammingIndex, pack_codes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COLD_START = """
import sys, time
import numpy as np
from sklearn.datasets import load_digits
from skhash import ITQ
from skhash.index import HammingIndex
X, y = load_digits(return_X_y=True)
codes = ITQ(n_bits=64, random_state=0).fit(X, y).transform(X)
index = HammingIndex(backend={backend!r}, n_jobs=2).fit(codes)
t0 = time.perf_counter()
index.kneighbors(n_neighbors=10)
t1 = time.perf_counter()
index.radius_neighbors(radius=2)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, "numba" in sys.modules)
"""


def fit_cost(codes, **fit_params):
    """Best wall time of 3 fits, and the traced peak of extra memory in one fit."""
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        HammingIndex().fit(codes, **fit_params)
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    index = HammingIndex().fit(codes, **fit_params)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del index
    return best, peak


def cold_start(backend):
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", COLD_START.format(backend=backend)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, (5_000_000, 64), dtype=np.uint8)
    inputs = [
        ("uint8 bits {0, 1}", bits, {}),
        ("uint8 bits, check_input=False", bits, {"check_input": False}),
        ("packed bytes (numpy.packbits)", np.packbits(bits, axis=1), {"packed": True}),
        ("packed uint64 words", pack_codes(bits), {"packed": True}),
    ]
    fit_rows = []
    for name, codes, params in inputs:
        seconds, peak = fit_cost(codes, **params)
        fit_rows.append((name, codes.nbytes, seconds, peak))
        print(f"{name}: {seconds:.3f} s, peak {peak / 2**20:.0f} MiB", flush=True)
    cold_rows = [(backend, *cold_start(backend)) for backend in ("auto", "numba")]
    for row in cold_rows:
        print(row, flush=True)

    lines = [
        "## Indexing and first-search costs (`benchmarks/hamming_costs.py`)",
        "",
        f"{environment()} Load average at the start: {load:.2f}.",
        "",
        "`HammingIndex().fit` on 5,000,000 x 64-bit codes (best of 3); extra memory is the "
        "peak of numpy allocations during one fit (tracemalloc), the index itself included "
        "(40 MB of packed codes). Target: < 1.5 s and < 2x the input.",
        "",
        "| input | input MB | fit s | extra memory MB | extra / input |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, size, seconds, peak in fit_rows:
        lines.append(
            f"| {name} | {size / 2**20:,.0f} | {seconds:.3f} | {peak / 2**20:,.0f} "
            f"| {peak / size:.2f}x |"
        )
    lines += [
        "",
        "Cold start: the first kNN (k=10) and first radius search (radius 2) of the 1,797 "
        "digits' 64-bit ITQ codes queried by themselves, in a fresh process with an empty "
        "numba cache (`NUMBA_CACHE_DIR` a new temporary directory). Target: < 1.5 s.",
        "",
        "| backend | first kNN s | first radius s | total s | numba imported |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for backend, knn, radius, numba in cold_rows:
        lines.append(f"| {backend} | {knn:.3f} | {radius:.3f} | {knn + radius:.3f} | {numba} |")
    if not args.no_write:
        write_section("hamming-costs", "\n".join(lines))


if __name__ == "__main__":
    main()
