"""mAP of every classic hasher on scikit-learn's digits at 16, 32 and 64 bits.

Protocol (issue 2): 300 random queries, the other 1,497 digits are the training set and the
database; an item is relevant when it has the query's class; mAP over the whole ranking, ties
in database order. Five random splits; the table gives mean and standard deviation.

Run: ``python benchmarks/classic.py`` (about half a minute on 2 cores).
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing
from skhash.metrics import mean_average_precision, precision_within_radius

try:
    from _report import environment, write_section
except ImportError:  # run from the repository root as a module
    from benchmarks._report import environment, write_section

HASHERS = [LSH, PCAHashing, ITQ, SpectralHashing, KMeansHashing]


def run(n_splits=5, bits=(16, 32, 64), n_query=300):
    X, y = load_digits(return_X_y=True)
    rows = []
    for split in range(n_splits):
        order = np.random.default_rng(split).permutation(len(X))
        q, d = order[:n_query], order[n_query:]
        for cls in HASHERS:
            for n_bits in bits:
                start = time.perf_counter()
                hasher = cls(n_bits=n_bits, random_state=split).fit(X[d], y[d])
                fit_time = time.perf_counter() - start
                dist = hasher.hamming_distances(X[q])
                rows.append(
                    {
                        "method": cls.__name__,
                        "bits": n_bits,
                        "split": split,
                        "mAP": mean_average_precision(y[q], y[d], dist),
                        "P@r2": precision_within_radius(y[q], y[d], dist, radius=2),
                        "fit_s": fit_time,
                    }
                )
    return pd.DataFrame(rows)


def to_markdown(results):
    summary = results.groupby(["method", "bits"], sort=False).agg(["mean", "std"])
    lines = [
        "| method | bits | mAP | precision within radius 2 | fit time (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (method, bits), row in summary.iterrows():
        lines.append(
            f"| {method} | {bits} | {row[('mAP', 'mean')]:.3f} ± {row[('mAP', 'std')]:.3f} "
            f"| {row[('P@r2', 'mean')]:.3f} ± {row[('P@r2', 'std')]:.3f} "
            f"| {row[('fit_s', 'mean')]:.2f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results = run(n_splits=args.splits)
    table = to_markdown(results.drop(columns="split"))
    print(table)
    if not args.no_write:
        body = (
            "## Classic hashers on digits (`benchmarks/classic.py`)\n\n"
            "300 random queries, the other 1,497 digits as training set and database, relevant ="
            f" same class, mAP over the whole ranking; mean ± std over {args.splits} random "
            "splits.\n\n"
            f"{environment()}\n\n{table}\n"
        )
        write_section("classic", body)


if __name__ == "__main__":
    main()
