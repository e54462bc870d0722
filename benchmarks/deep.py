"""Deep hashers against ITQ on scikit-learn's digits: mAP and training time.

300 random queries; the other 1,497 digits are the training set and the database. Every
hasher runs with its defaults (``random_state=0``); mAP ranks the whole database by Hamming
distance (relevant = same digit). Writes the "deep" section of ``docs/benchmarks.md``.

    python benchmarks/deep.py                    # all hashers, 16/32/64 bits
    python benchmarks/deep.py --hashers DSBH --bits 32 --no-write
"""

import argparse
import importlib
import time

import numpy as np
import torch
from _report import environment, write_section
from sklearn.datasets import load_digits

from skhash import ITQ

DEEP = ("DSBH", "DPHB", "DAHP", "SCAE")


def available_deep_hashers(names=DEEP):
    """The deep hasher classes that exist in this checkout (SCAE/DAHP may not yet)."""
    deep = importlib.import_module("skhash.deep")
    found = {}
    for name in names:
        try:
            found[name] = getattr(deep, name)
        except (AttributeError, ImportError):
            continue
    return found


def split(n_queries=300, random_state=0):
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(random_state).permutation(len(X))
    return X, y, perm[n_queries:], perm[:n_queries]


def run(hashers, bits, device, on_row=None):
    X, y, db, q = split()
    images = (X / 16).reshape(-1, 8, 8).astype(np.float32)
    rows = []
    for n_bits in bits:
        candidates = [("ITQ", ITQ(n_bits=n_bits, random_state=0), X)]
        candidates += [
            (name, cls(n_bits=n_bits, device=device, random_state=0), images)
            for name, cls in hashers.items()
        ]
        for name, hasher, data in candidates:
            tic = time.perf_counter()
            hasher.fit(data[db], y[db])
            fit_time = time.perf_counter() - tic
            score = hasher.score(data[q], y[q])
            epochs = len(getattr(hasher, "history_", [])) or "-"
            rows.append((name, n_bits, score, fit_time, epochs))
            if on_row is not None:
                on_row(rows)
            print(
                f"{name:>5} {n_bits:>3} bits  mAP {score:.4f}  fit {fit_time:7.1f} s  "
                f"({epochs} epochs)",
                flush=True,
            )
    return rows


def to_markdown(rows, device):
    lines = [
        "## Deep hashers vs ITQ on digits",
        "",
        "`benchmarks/deep.py`: sklearn digits (8x8), 300 random queries, the other 1,497 images "
        "are the training set and the database; mAP over the whole database (relevant = same "
        f"digit). Defaults of every hasher, `random_state=0`, device `{device}`, "
        f"{torch.get_num_threads()} torch threads. Fit time includes encoding the database.",
        "",
        environment(),
        "",
        "| hasher | bits | mAP | fit time (s) | epochs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, n_bits, score, fit_time, epochs in sorted(rows, key=lambda r: r[1]):
        lines.append(f"| {name} | {n_bits} | {score:.4f} | {fit_time:.1f} | {epochs} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashers", nargs="*", default=list(DEEP))
    parser.add_argument("--bits", nargs="*", type=int, default=[16, 32, 64])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--no-write", action="store_true", help="do not update docs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    hashers = available_deep_hashers(args.hashers)

    def write(rows):  # after every row, so a long run leaves partial results
        write_section("deep", to_markdown(rows, args.device))

    run(hashers, args.bits, args.device, on_row=None if args.no_write else write)


if __name__ == "__main__":
    main()
