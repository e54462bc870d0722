"""DaskHammingIndex on a LocalCluster, and a plan for 1 billion codes from measured costs.

Three parts, written to the ``dask-index`` section of docs/benchmarks.md:

1. Per-shard costs, measured in one process: the exhaustive kNN scan (k=100) and the
   multi-index radius-2 search as the shard grows, the build, and the merge of partial
   top-k lists. These are the inputs of the model.
2. End to end on a ``distributed.LocalCluster`` of worker processes (one thread each):
   codes made on the workers (never in this process), sharded, searched; fit time and
   queries/s with 1 and 2 workers, and the model's prediction for the same setting.
3. The model for 1B 64-bit codes on N workers: memory per worker (codes, multi-index
   tables), kNN and radius-2 queries/s as N grows, and the share of the merge. A search
   costs the slowest worker's shard search (shards are equal: codes / N each, searched by
   ``cores`` threads) plus a tree of merges (fan-in ``MERGE_FAN_IN``), each level one task
   round trip and one merge of ``MERGE_FAN_IN`` lists.

Run ``python benchmarks/dask_index.py`` on an idle machine (about 5 minutes).
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import environment, write_section  # noqa: E402

from skhash.distributed import MERGE_FAN_IN, DaskHammingIndex  # noqa: E402
from skhash.index import HammingIndex  # noqa: E402
from skhash.index._backend import merge_top_k  # noqa: E402
from skhash.index._mih_plan import dense_directory, expected_cost, substring_widths  # noqa: E402

K, KNN_QUERIES, RADIUS_QUERIES = 100, 100, 10_000
SHARD_SIZES = (1_000_000, 4_000_000, 16_000_000, 64_000_000)


def best_time(function, repeats=2):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - t0)
    return best


def random_words(n, seed):
    return np.random.default_rng(seed).integers(0, 2**64, size=(n, 1), dtype=np.uint64)


def near_queries(words, n, seed):
    """Database codes with 0-3 bits flipped."""
    rng = np.random.default_rng(seed)
    queries = words[rng.integers(0, len(words), n)].copy()
    flips = rng.integers(0, 64, size=(n, 3))
    keep = rng.random((n, 3)) < 0.5
    for j in range(3):
        queries[:, 0] ^= np.where(keep[:, j], np.uint64(1) << flips[:, j].astype(np.uint64), 0)
    return queries


def shard_costs(shard_sizes, threads):
    """Seconds per query of a shard search as the shard grows, and build seconds per code."""
    warm = HammingIndex(backend="mih").fit(random_words(5000, 0), packed=True)
    warm.radius_neighbors(warm.packed_codes_[:8], 2, packed=True)  # loads the kernels
    warm.set_params(backend="numba").kneighbors(warm.packed_codes_[:8], K, packed=True)
    rows = []
    for n in shard_sizes:
        words = random_words(n, n)
        t0 = time.perf_counter()
        index = HammingIndex(backend="numba", n_jobs=threads).fit(words, packed=True)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        tables = index._db.tables()
        tables_s = time.perf_counter() - t0
        knn_q, radius_q = near_queries(words, KNN_QUERIES, 1), near_queries(words, 2000, 2)
        index.kneighbors(knn_q[:4], K, packed=True)
        knn_s = best_time(lambda i=index, q=knn_q: i.kneighbors(q, K, packed=True))
        mih = HammingIndex(backend="mih", n_jobs=threads)
        mih._db = index._db
        mih.radius_neighbors(radius_q[:4], 2, packed=True)
        radius_s = best_time(lambda m=mih, q=radius_q: m.radius_neighbors(q, 2, packed=True))
        rows.append(
            {
                "n": n,
                "fit s": fit_s,
                "tables s": tables_s,
                "tables MB": tables.nbytes / 2**20,
                "knn s/query": knn_s / KNN_QUERIES,
                "radius s/query": radius_s / len(radius_q),
            }
        )
        print(rows[-1], flush=True)
    return rows


def merge_seconds(fan_in, n_queries=KNN_QUERIES, k=K):
    """One merge task's work: the best k of ``fan_in`` lists of k, for ``n_queries``."""
    rng = np.random.default_rng(0)
    dist = rng.integers(0, 30, (n_queries, fan_in * k))
    pos = rng.permutation(n_queries * fan_in * k).reshape(n_queries, -1)
    return best_time(lambda: merge_top_k(dist, pos, k), repeats=5)


def checks(n, radius=2):
    """Buckets probed plus codes checked by a radius search over n uniform 64-bit codes."""
    return expected_cost(substring_widths(64, n), n, radius)


def per_query(rows, column, n):
    """Per-query seconds at shard size ``n``, fitted on the measured shard sizes.

    The scan: ``a * n`` (least squares). Multi-index radius search: ``a + b * checks(n)``,
    a fixed cost per query plus one per bucket probed or code checked (the buckets fill up
    as n grows past ``2 ** 22`` per substring).
    """
    sizes = np.array([r["n"] for r in rows], dtype=float)
    costs = np.array([r[column] for r in rows])
    if column == "knn s/query":
        return float(sizes @ costs / (sizes @ sizes) * n)
    work = np.array([checks(int(m)) for m in sizes])
    (fixed, per_check), *_ = np.linalg.lstsq(np.c_[np.ones_like(work), work], costs, rcond=None)
    return float(max(fixed, 0.0) + max(per_check, 0.0) * checks(int(n)))


def tables_bytes(n):
    """Memory of the multi-index tables a shard of n 64-bit codes builds."""
    widths = substring_widths(64, n)
    entry = 4 if n < 2**32 else 8
    directory = sum(2 ** int(w) + 1 for w in widths) * entry if dense_directory(widths, n) else 0
    return len(widths) * n * entry + directory


def model(rows, round_trip, merge_s, n_codes, n_workers, cores):
    """Predicted seconds of a kNN batch and of a radius-2 batch, and the merge's share.

    ``round_trip``: a minimal search measured on the LocalCluster (its shard tasks, then one
    level of merges), so half of it is taken per level of tasks.
    """
    shard = n_codes / n_workers
    levels = math.ceil(math.log(n_workers, MERGE_FAN_IN) - 1e-9) if n_workers > 1 else 0
    task = round_trip / 2
    merge = levels * (task + merge_s)
    # one-thread costs shared by the worker's cores; radius hits are few: merging is cheap
    knn = KNN_QUERIES * per_query(rows, "knn s/query", shard) / cores + task + merge
    radius = RADIUS_QUERIES * per_query(rows, "radius s/query", shard) / cores
    radius += task * (1 + levels)
    return knn, radius, merge / knn


def on_cluster(n_workers, n_codes, chunk):
    """Fit and search times on a LocalCluster of ``n_workers`` one-thread processes."""
    import dask.array as da
    import distributed

    def block(block_info=None):
        start, stop = block_info[None]["array-location"][0]
        return random_words(stop - start, start)

    with (
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        codes = da.map_blocks(
            block,
            chunks=((chunk,) * (n_codes // chunk), (1,)),
            dtype=np.uint64,
            meta=np.empty((0, 1), np.uint64),
        )
        t0 = time.perf_counter()
        index = DaskHammingIndex(n_jobs=1).fit(codes, packed=True)
        fit_s = time.perf_counter() - t0
        queries = near_queries(random_words(chunk, 0), RADIUS_QUERIES, 3)  # from shard 0
        index.radius_neighbors(queries[:8], 2, packed=True)  # tables built, kernels loaded
        index.kneighbors(queries[:8], K, packed=True)
        knn_s = best_time(lambda: index.kneighbors(queries[:KNN_QUERIES], K, packed=True))
        radius_s = best_time(lambda: index.radius_neighbors(queries, 2, packed=True))
        tiny = best_time(lambda: index.radius_neighbors(queries[:1], 0, packed=True), 5)
        assert sum(len(keys) for keys in client.has_what().values()) >= 8  # shards held
    return {"fit s": fit_s, "knn s": knn_s, "radius s": radius_s, "latency s": tiny}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--cluster-codes", type=int, default=16_000_000)
    parser.add_argument("--shard-sizes", type=int, nargs="+", default=SHARD_SIZES)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = shard_costs(args.shard_sizes, threads=1)
    merge_s = merge_seconds(MERGE_FAN_IN)
    chunk = args.cluster_codes // 8
    cluster = {n: on_cluster(n, args.cluster_codes, chunk) for n in (1, 2)}
    for n, c in cluster.items():
        print(n, c, flush=True)
    latency = cluster[2]["latency s"]

    lines = [
        "## Sharded search on Dask, and a plan for 1 billion codes (`benchmarks/dask_index.py`)",
        "",
        f"{environment()} Load average at the start: {load:.2f}"
        + (
            " (other jobs shared the cores: speeds are below an idle machine's)."
            if load > 1.5
            else "."
        ),
        "",
        "### Per-shard costs (one process, one thread)",
        "",
        f"Uniform random 64-bit codes; kNN: k={K}, {KNN_QUERIES} queries; radius 2 over the "
        "multi-index tables: 2000 queries (database codes with 0-3 bits flipped). These "
        "per-query costs drive the model below.",
        "",
        "| shard codes | fit s | tables build s | tables MB | kNN ms/query | radius-2 µs/query "
        "| radius-2 checks/query (model) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['fit s']:.3f} | {r['tables s']:.2f} | {r['tables MB']:,.0f} "
            f"| {1e3 * r['knn s/query']:.2f} | {1e6 * r['radius s/query']:.1f} "
            f"| {checks(r['n']):,.0f} |"
        )
    lines += [
        "",
        f"Merge of {MERGE_FAN_IN} partial top-{K} lists for {KNN_QUERIES} queries: "
        f"{1e3 * merge_s:.2f} ms. Round trip of a minimal search on the LocalCluster (one "
        f"query, radius 0: the shard tasks, then one level of merges): {1e3 * latency:.1f} ms.",
        "",
        f"### End to end on a LocalCluster ({args.cluster_codes:,} codes in 8 shards)",
        "",
        "Worker processes with one thread each; codes made on the workers by `map_blocks`, "
        "shards built and kept where their block was made. `model` is the prediction of the "
        "model below for the same setting (1 core per worker).",
        "",
        "| workers | fit s | kNN k=100 q/s | model kNN q/s | radius-2 q/s | model radius q/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, c in cluster.items():
        knn_m, radius_m, _ = model(rows, latency, merge_s, args.cluster_codes, n, cores=1)
        lines.append(
            f"| {n} | {c['fit s']:.2f} | {KNN_QUERIES / c['knn s']:,.1f} "
            f"| {KNN_QUERIES / knn_m:,.1f} | {RADIUS_QUERIES / c['radius s']:,.0f} "
            f"| {RADIUS_QUERIES / radius_m:,.0f} |"
        )
    cores = 8
    lines += [
        "",
        f"### Model: 1 billion 64-bit codes on N workers of {cores} cores",
        "",
        "Memory per worker: its codes (8 bytes each, 7.45 GiB in all) and the multi-index "
        "tables its shard builds for radius search (4 bytes per code per substring, plus the "
        "directories). kNN: a batch of "
        f"{KNN_QUERIES} queries, k={K}, exhaustive on every shard, then a tree of merges "
        f"(fan-in {MERGE_FAN_IN}). Radius 2: batches of {RADIUS_QUERIES} queries on the "
        "tables, each query costing a fixed part plus a part per bucket probed or code checked "
        "(fitted on the shards above; for 64-bit codes the substrings are 21-22 bits wide "
        "from 3 million to 3 billion codes per shard, so their buckets fill up as a shard "
        "grows). Costs scaled from the "
        "one-thread measurements above to "
        f"{cores} threads per worker; the network is taken as fast as the LocalCluster's.",
        "",
        "| workers | codes per worker | codes GiB per worker | tables GiB per worker "
        "| kNN q/s | merge share of a kNN batch | radius-2 q/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    n_codes = 10**9
    for n_workers in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        knn_m, radius_m, share = model(rows, latency, merge_s, n_codes, n_workers, cores)
        per_worker = n_codes / n_workers
        lines.append(
            f"| {n_workers} | {per_worker:,.0f} | {8 * per_worker / 2**30:.2f} "
            f"| {tables_bytes(int(per_worker)) / 2**30:.2f} | {KNN_QUERIES / knn_m:,.1f} "
            f"| {100 * share:.1f}% | {RADIUS_QUERIES / radius_m:,.0f} |"
        )
    if not args.no_write:
        write_section("dask-index", "\n".join(lines))
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
