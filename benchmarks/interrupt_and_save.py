"""Issue 22's fault cases, measured: Ctrl-C latency and kills during a save.

1. Ctrl-C: each long operation of a classic hasher runs in a child process (64 features,
   sizes as in the issue); SIGINT is sent 0.3, 0.8 and 1.5 s in, and the child reports when
   its KeyboardInterrupt arrived and whether the hasher was left as before. Target: under
   1 s on an idle machine.
2. Saving: ``HammingIndex.save`` of N x 128-bit codes with ids, ``HammingIndex.load`` with
   and without ``mmap``; then SIGKILL of a child saving that index over an 8-item file at
   several moments, and which file is left (old, new, or broken: must never happen).

Run ``python benchmarks/interrupt_and_save.py`` (a few minutes); results go to the
``interrupt-save`` section of docs/benchmarks.md.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import environment, load, write_section  # noqa: E402

from skhash.index import HammingIndex  # noqa: E402

CHILD = textwrap.dedent(
    """
    import json, sys, time
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
    index = getattr(hasher, "index_", None)
    before = (id(index), None if index is None else index.n_indexed_)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    try:
        getattr(hasher, method)(X)
        print(json.dumps({"done": time.perf_counter() - t0}), flush=True)
    except KeyboardInterrupt:
        now = time.time()
        index = getattr(hasher, "index_", None)
        after = (id(index), None if index is None else index.n_indexed_)
        print(json.dumps({"at": now, "unchanged": after == before}), flush=True)
    """
)

OPERATIONS = [
    ("SpectralHashing", "fit", 0, 100_000),
    ("SpectralHashing", "add", 2_000, 400_000),
    ("KMeansHashing", "fit", 0, 100_000),
    ("KMeansHashing", "add", 2_000, 400_000),
    ("ITQ", "fit", 0, 200_000),
    ("ITQ", "add", 2_000, 1_000_000),
    ("PCAHashing", "transform", 2_000, 1_000_000),
    ("LSH", "add", 2_000, 1_000_000),
]

SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skhash.index import HammingIndex

    path, n = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(1)
    index = HammingIndex().fit(rng.integers(0, 2**63, (n, 2), dtype=np.uint64),
                               ids=np.arange(n), packed=True)
    print("ready", flush=True)
    sys.stdin.readline()
    index.save(path)
    """
)


def sigint_latency(name, method, n_fit, n_rows, delay):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, name, method, str(n_fit), str(n_rows)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.flush()
    time.sleep(delay)
    sent = time.time()
    child.send_signal(signal.SIGINT)
    out = json.loads(child.stdout.readline())
    child.wait(60)
    if "done" in out:
        return None, None, out["done"]
    return out["at"] - sent, out["unchanged"], None


def kill_during_save(folder, n, delay):
    path = os.path.join(folder, "index.skhash")
    HammingIndex().fit(np.eye(8, dtype=np.uint8), ids=np.arange(8)).save(path)
    child = subprocess.Popen(
        [sys.executable, "-c", SAVER, path, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    child.stdout.readline()
    child.stdin.write(b"go\n")
    child.stdin.flush()
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    try:
        n_loaded = HammingIndex.load(path).n_indexed_
        outcome = "old" if n_loaded == 8 else ("new" if n_loaded == n else "WRONG")
    except ValueError as exc:
        outcome = f"BROKEN ({exc})"
    for name in os.listdir(folder):
        if name.endswith(".tmp"):
            os.unlink(os.path.join(folder, name))
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-save", type=int, default=20_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    lines = [
        "## Ctrl-C and kills during a save (`benchmarks/interrupt_and_save.py`)",
        "",
        environment(),
        "",
        "SIGINT into a child process running the operation (64 features, `OMP_NUM_THREADS=1`), "
        "sent 0.3 / 0.8 / 1.5 s in: seconds until its KeyboardInterrupt, and whether the hasher "
        "was left as before (fit restores it; add swaps the new database in only at the end). "
        "'done' means the operation finished before the signal.",
        "",
        "Before this work (commit c667e93, same machine and script, load 10.7; SIGINT 0.3 / "
        "0.8 s in): SpectralHashing.fit 1.94 / 1.98 s, SpectralHashing.add 7.17 / 4.87 s, "
        "KMeansHashing.fit 0.07 / 0.87 s, KMeansHashing.add 2.60 / 0.34 s, ITQ.fit 0.00 / "
        "3.54 s, ITQ.add 4.46 / 5.74 s, PCAHashing.transform 3.96 / 3.17 s, LSH.add (64 "
        "bits) 6.47 / 6.34 s.",
        "",
        "| operation | rows | latency at 0.3 s | at 0.8 s | at 1.5 s | left as before |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, method, n_fit, n_rows in OPERATIONS:
        cells, unchanged = [], True
        for delay in (0.3, 0.8, 1.5):
            latency, same, done = sigint_latency(name, method, n_fit, n_rows, delay)
            cells.append(f"done in {done:.2f} s" if latency is None else f"{latency:.3f}")
            unchanged = unchanged and same is not False
        left = "yes" if unchanged else "NO"
        lines.append(f"| {name}.{method} | {n_rows:,} | {' | '.join(cells)} | {left} |")
        print(lines[-1], flush=True)

    n = args.n_save
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    index = HammingIndex().fit(
        rng.integers(0, 2**63, (n, 2), dtype=np.uint64), ids=np.arange(n), packed=True
    )
    path = os.path.join(folder, "index.skhash")
    t0 = time.perf_counter()
    index.save(path)
    t_save = time.perf_counter() - t0
    t0 = time.perf_counter()
    HammingIndex.load(path, mmap=True)
    t_mmap = time.perf_counter() - t0
    t0 = time.perf_counter()
    HammingIndex.load(path)
    t_read = time.perf_counter() - t0
    size = os.path.getsize(path)
    os.unlink(path)
    del index
    lines += [
        "",
        f"Saving {n:,} x 128-bit codes with int64 ids ({size / 2**20:.0f} MiB file): "
        f"save {t_save:.2f} s (written, fsynced, renamed), load with mmap {t_mmap * 1e3:.1f} ms, "
        f"load without mmap {t_read:.2f} s (checksums verified); {load()}.",
        "",
        "SIGKILL of a child saving that index over an 8-item index file, at these moments "
        "after the save began; the file left behind:",
        "",
        "| kill after (s) | file left |",
        "| ---: | --- |",
    ]
    for delay in (0.0, 0.02, 0.1, 0.3, 0.6, 1.0, 1.5, 2.5, 4.0):
        outcome = kill_during_save(folder, n, delay)
        lines.append(f"| {delay} | {outcome} |")
        print(lines[-1], flush=True)
    if not args.no_write:
        write_section("interrupt-save", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
