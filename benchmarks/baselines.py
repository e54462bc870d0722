"""The literature's deep baselines beside ITQ, LSH and the thesis methods: mAP, P@10, fit time.

Data: scikit-learn's digits (8x8; 300 random queries, the other 1,497 images are the training
set and the database) and the 5,000-image MNIST subset (28x28; 1,000 random queries, the other
4,000). Every hasher runs with its defaults and ``random_state=0``; an item is relevant when it
has the query's class; mAP ranks the whole database, P@10 is the precision of the first ten
(both tie-aware: items at equal Hamming distance count in expectation). Fit time includes
encoding the database. Writes the "baselines" section of ``docs/benchmarks.md``, with the
load average of the machine before the run (timings from a loaded machine are upper bounds).

Targets (issue 13): every supervised baseline reaches P@10 > 0.85 on digits at 32 bits in
under 2 minutes; BiHalf's mAP beats LSH's.

    python benchmarks/baselines.py                           # everything (long on MNIST)
    python benchmarks/baselines.py --datasets digits --bits 32 --no-write
    python benchmarks/baselines.py --hashers DPSH CSQ --threads 1
"""

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from skhash import ITQ, LSH
from skhash.compare._methods import BASELINE_METHODS
from skhash.datasets import load_digits, load_mnist_5k
from skhash.metrics import mean_average_precision, precision_at_k

try:
    from _report import environment, write_section
    from deep import available_deep_hashers
except ImportError:  # run from the repository root as a module
    from benchmarks._report import environment, write_section
    from benchmarks.deep import available_deep_hashers

BASELINES = BASELINE_METHODS  # the compare CLI's "baselines" group
THESIS = ("DSBH", "DPHB", "DAHP", "SCAE")
SUPERVISED_BASELINES = BASELINES[:-1]
# Too slow on a CPU at their defaults on MNIST (ResNet-18 and AlexNet on 28x28 images): left
# out of the MNIST runs unless named with --hashers.
CPU_HEAVY = ("DPHB", "DAHP")
# Rows of earlier runs, for --append (a long run can be done in parts).
ROWS_FILE = Path(__file__).with_name("baselines_rows.json")


def load(name):
    """Images in [0, 1], flat vectors, labels and the (database, query) split of a data set."""
    if name == "digits":
        X, y = load_digits(as_images=True, return_X_y=True)
        images, n_query = X / 16.0, 300
    else:
        X, y = load_mnist_5k(as_images=True, return_X_y=True)
        images, n_query = X / 255.0, 1000
    images = images.astype(np.float32)
    order = np.random.default_rng(0).permutation(len(y))
    return images, images.reshape(len(y), -1), y, order[n_query:], order[:n_query]


def evaluate(name, hasher, data, dataset, n_bits, y, db, q):
    tic = time.perf_counter()
    hasher.fit(data[db], y[db])
    fit_time = time.perf_counter() - tic
    distances = hasher.hamming_distances(data[q])
    return {
        "dataset": dataset,
        "hasher": name,
        "bits": n_bits,
        "mAP": mean_average_precision(y[q], y[db], distances, tie_aware=True),
        "P@10": precision_at_k(y[q], y[db], distances, 10, tie_aware=True),
        "fit_s": fit_time,
        "epochs": len(getattr(hasher, "history_", [])) or "-",
    }


def run(datasets, hashers, bits, device, on_row=None, skip_on_mnist=(), rows=()):
    rows = list(rows)
    for dataset in datasets:
        images, vectors, y, db, q = load(dataset)
        deep = {
            name: cls
            for name, cls in hashers.items()
            if dataset == "digits" or name not in skip_on_mnist
        }
        for n_bits in bits:
            candidates = [
                ("LSH", LSH(n_bits=n_bits, random_state=0), vectors),
                ("ITQ", ITQ(n_bits=n_bits, random_state=0), vectors),
            ]
            candidates += [
                (name, cls(n_bits=n_bits, device=device, random_state=0), images)
                for name, cls in deep.items()
            ]
            for name, hasher, data in candidates:
                row = evaluate(name, hasher, data, dataset, n_bits, y, db, q)
                rows.append(row)
                print(
                    f"{dataset:>7} {name:>10} {n_bits:>3} bits  mAP {row['mAP']:.4f}  "
                    f"P@10 {row['P@10']:.4f}  fit {row['fit_s']:7.1f} s ({row['epochs']} epochs)",
                    flush=True,
                )
                if on_row is not None:
                    on_row(rows)
    return rows


def target_lines(rows):
    """Whether the issue's targets are met, from the digits rows."""
    digits = {(r["hasher"], r["bits"]): r for r in rows if r["dataset"] == "digits"}
    lines = []
    for name in SUPERVISED_BASELINES:
        r = digits.get((name, 32))
        if r is not None:
            met = r["P@10"] > 0.85 and r["fit_s"] < 120
            lines.append(
                f"- {name}, digits, 32 bits: P@10 {r['P@10']:.3f} in {r['fit_s']:.1f} s "
                f"({'met' if met else 'NOT met'}: P@10 > 0.85 in under 2 minutes)"
            )
    for n_bits in sorted({b for _, b in digits}):
        bihalf, lsh = digits.get(("BiHalf", n_bits)), digits.get(("LSH", n_bits))
        if bihalf is not None and lsh is not None:
            met = bihalf["mAP"] > lsh["mAP"]
            lines.append(
                f"- BiHalf vs LSH, digits, {n_bits} bits: mAP {bihalf['mAP']:.3f} vs "
                f"{lsh['mAP']:.3f} ({'met' if met else 'NOT met'})"
            )
    return lines


def to_markdown(rows, device, threads, load_before):
    lines = [
        "## Deep baselines beside ITQ, LSH and the thesis methods (`benchmarks/baselines.py`)",
        "",
        "Digits: 300 random queries, the other 1,497 images are the training set and the "
        "database. MNIST subset: 1,000 random queries, the other 4,000. Defaults of every "
        "hasher, `random_state=0`; relevant = same digit; mAP over the whole ranking and P@10, "
        "both tie-aware. Fit time includes encoding the database. DPHB and DAHP (AlexNet and "
        "ResNet-18 at their defaults) are run on the digits only: on 28x28 MNIST they take "
        f"tens of minutes per fit on two CPU cores. Device `{device}`, {threads} torch "
        f"thread(s); load average before the run: {load_before:.2f} (fit times from a loaded "
        "machine are upper bounds).",
        "",
        environment(),
        "",
        "| data | hasher | bits | mAP | P@10 | fit time (s) | epochs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in sorted(rows, key=lambda r: (r["dataset"], r["bits"])):
        lines.append(
            f"| {r['dataset']} | {r['hasher']} | {r['bits']} | {r['mAP']:.4f} | "
            f"{r['P@10']:.4f} | {r['fit_s']:.1f} | {r['epochs']} |"
        )
    targets = target_lines(rows)
    if targets:
        lines += ["", "Targets of issue 13:", "", *targets]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["digits", "mnist5k"])
    parser.add_argument("--hashers", nargs="*", default=None)
    parser.add_argument("--bits", nargs="*", type=int, default=[16, 32, 64])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--no-write", action="store_true", help="do not update docs")
    parser.add_argument("--append", action="store_true", help="keep the rows of earlier runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    hashers = available_deep_hashers(args.hashers or BASELINES + THESIS)
    load_before = os.getloadavg()[0]

    previous = []
    if args.append:
        with contextlib.suppress(FileNotFoundError):
            previous = json.loads(ROWS_FILE.read_text())

    def write(rows):  # after every row, so a long run leaves partial results
        ROWS_FILE.write_text(json.dumps(rows))
        write_section("baselines", to_markdown(rows, args.device, args.threads, load_before))

    on_row = None if args.no_write else write
    skip = () if args.hashers else CPU_HEAVY  # named with --hashers: run everywhere
    rows = run(
        args.datasets, hashers, args.bits, args.device, on_row, skip_on_mnist=skip, rows=previous
    )
    print("\n".join(target_lines(rows)))


if __name__ == "__main__":
    main()
