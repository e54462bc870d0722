"""Coarse-to-fine search against the fine scan alone, on 1M items.

Data: the 5,000-image MNIST subset tiled to 1M items, each a copy of one image with Gaussian
pixel noise (sigma 20 or 40 on 0..255), so every image has 200 noisy near-duplicates; the
1,000 queries are fresh noisy copies. The fine hasher is ITQ at 512 bits, the coarse one ITQ
at 40 bits, both fitted on the first 50,000 items and given the rest by ``add``; both index
all 1M items. Searches run on one thread (the hashers' default ``n_jobs``).

For each setting the fine scan alone (``fine_.kneighbors``: the compiled exhaustive scan of
the 1M fine codes) and the coarse-to-fine search (``CoarseToFine.kneighbors``) answer the
same queries in turn, best of three rounds each, k=10. Recall@10 is the share of the fine
scan's ten neighbours (by index) that the coarse-to-fine search returns; "candidates" is the
mean number of items whose fine codes the second stage reads.

Reading: the two stages pay where near neighbours share coarse codes (near-duplicates, noise
20), where radius 3 keeps recall@10 at 0.99 and is still faster than the scan; on the noisier
copies a radius that reaches recall 0.95 reads more candidates than is cheaper than scanning.
Most of the two-stage time goes to the coarse index's multi-index radius lookups (about 1 us
per item found at 40 bits here), not to ordering the candidates (a compiled gather of their
fine codes). On a shared machine the absolute rates drift between rows; each speed-up
compares the two searches timed in turn.
"""

import argparse
import os
import time

import numpy as np

from skhash import ITQ, CoarseToFine
from skhash.datasets import load_mnist_5k
from skhash.utils.timing import measure_time

try:
    from _report import environment, write_section
except ImportError:  # run from the repository root as a module
    from benchmarks._report import environment, write_section

N_TRAIN = 50_000
CHUNK = 50_000


def tiled_mnist(n, seed, noise):
    """``make(start, stop)``: items ``start..stop`` of the tiled, noisy MNIST subset."""
    images, _ = load_mnist_5k(return_X_y=True)
    images = images.reshape(len(images), -1).astype(np.float32)

    def make(start, stop):
        rng = np.random.default_rng([seed, start])
        source = (np.arange(start, stop) * 7919) % len(images)  # every image, spread out
        return images[source] + rng.normal(0, noise, (stop - start, images.shape[1]))

    return make


def build(make, n, coarse_bits, fine_bits):
    """A CoarseToFine fitted on the first items and given the rest by ``add``."""
    search = CoarseToFine(ITQ(coarse_bits, random_state=0), ITQ(fine_bits, random_state=0))
    search.fit(make(0, N_TRAIN))
    for start in range(N_TRAIN, n, CHUNK):
        search.add(make(start, min(n, start + CHUNK)))
    return search


def best_time(search, queries, rounds=3):
    """The fastest of ``rounds`` timed searches (warmed up by the caller), and its result."""
    timing = measure_time(lambda: search(queries), n_repeats=rounds, warmup=0)
    return min(timing.times), timing.result


def run(search, queries, settings, k=10):
    """Rows (setting, candidates, q/s fine, q/s coarse-to-fine, recall@10)."""
    fine = search.fine_
    fine.kneighbors(queries[:20], k)  # compile and warm up
    rows = []
    for setting in settings:
        search.set_params(**{"n_candidates": 300, "candidate_radius": None, **setting})
        search.kneighbors(queries, k)  # warm up (and compile the ranking kernel)
        t_fine, (_, exact) = best_time(lambda q: fine.kneighbors(q, k), queries)
        t_two, (_, found) = best_time(lambda q: search.kneighbors(q, k), queries)
        recall = np.mean(
            [len(np.intersect1d(a, b)) / k for a, b in zip(found, exact, strict=True)]
        )
        indptr, _ = search._candidates(search.coarse_.transform(queries), k)
        rows.append(
            (setting, np.diff(indptr).mean(), len(queries) / t_fine, len(queries) / t_two, recall)
        )
        print(rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--noise", type=float, nargs="+", default=[20.0, 40.0])
    parser.add_argument("--coarse-bits", type=int, default=40)
    parser.add_argument("--fine-bits", type=int, default=512)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    settings = [{"candidate_radius": r} for r in (1, 2, 3)] + [{"n_candidates": 1000}]
    table = [
        "| pixel noise | candidates from | candidates | fine scan (q/s) "
        "| coarse-to-fine (q/s) | speed-up | recall@10 |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for noise in args.noise:
        make = tiled_mnist(args.n, seed=0, noise=noise)
        queries = tiled_mnist(args.n, seed=1, noise=noise)(0, 1000)
        start = time.perf_counter()
        search = build(make, args.n, args.coarse_bits, args.fine_bits)
        print(f"noise {noise}: built in {time.perf_counter() - start:.0f} s", flush=True)
        for setting, n_cand, qps_fine, qps_two, recall in run(search, queries, settings):
            source = (
                f"radius {setting['candidate_radius']} ({args.coarse_bits} bits)"
                if "candidate_radius" in setting
                else f"top {setting['n_candidates']} ({args.coarse_bits} bits)"
            )
            table.append(
                f"| {noise:g} | {source} | {n_cand:,.0f} | {qps_fine:,.0f} | {qps_two:,.0f} "
                f"| {qps_two / qps_fine:.2f}x | {recall:.3f} |"
            )
        del search
    body = (
        "## Coarse-to-fine search on 1M items (`benchmarks/coarse_to_fine.py`)\n\n"
        f"{environment()} Load average before the run: {load:.2f}.\n\n"
        + __doc__.split("\n\n", 1)[1]
        + "\n"
        + "\n".join(table)
        + "\n"
    )
    print(body)
    if not args.no_write:
        write_section("coarse-to-fine", body)


if __name__ == "__main__":
    main()
