"""Multi-index hashing's plan: substring widths and the cost model (no numba).

Kept apart from the compiled tables so that ``"auto"`` can decide whether multi-index
hashing may pay without importing numba.
"""

from math import comb, log2

import numpy as np

MAX_WIDTH = 32  # bits of a substring key (the directories hold uint32 keys)


def substring_widths(n_bits, n_database, n_substrings=None):
    """Substring widths: about ``log2(n_database)`` bits each (Norouzi et al.), at most 32."""
    if n_substrings is None:
        width = min(MAX_WIDTH, max(1, round(log2(max(n_database, 2)))))
        n_substrings = -(-n_bits // width)
    m = int(min(max(n_substrings, -(-n_bits // MAX_WIDTH)), n_bits))
    widths = np.full(m, n_bits // m, dtype=np.int64)
    widths[: n_bits % m] += 1
    return widths


def dense_directory(widths, n_database):
    """Whether the tables' directories are dense: ``2 ** width <= 2 * n_database``."""
    return bool(2 ** int(np.max(widths)) <= 2 * n_database)


def id_dtype(n_database):
    """The dtype of the table entries (database positions)."""
    return np.dtype(np.uint32 if n_database < 2**32 else np.int64)


# Relative costs of a search step, in units of one candidate checked (its packed code read,
# its distance and substrings compared: independent reads that overlap). A bucket probe is a
# chain of dependent reads: a dense directory's offsets then the bucket; a sparse one's
# prefix index, keys and offsets, then the bucket. Fitted to radius 0-4 searches over 2M
# uniform 64-bit codes with 2, 3 and 4 tables, 1 thread (docs/benchmarks.md, multi-index
# section): dense probe ~0.2 us, sparse ~0.7 us, candidate ~0.07 us.
PROBE_COST = {True: 3.0, False: 10.0}
CHECK_COST = 1.0


def expected_cost(widths, n_database, radius, dense=None, weighted=True):
    """Expected cost of a radius-``radius`` search on uniform codes (see ``PROBE_COST``).

    Every stage ``(s, t)`` with ``m * s + t <= radius`` probes ``comb(width_t, s)`` buckets,
    each holding ``n_database / 2 ** width_t`` codes on average, and checks them.
    ``weighted=False`` counts buckets probed plus codes checked instead (the unit of a
    capped search's ``max_checks``).
    """
    if dense is None:
        dense = dense_directory(widths, n_database)
    probe = PROBE_COST[bool(dense)] if weighted else 1.0
    m, cost = len(widths), 0.0
    for s in range(int(max(widths)) + 1):
        for t, width in enumerate(widths):
            if m * s + t > radius:
                return cost
            n_keys = comb(int(width), s)
            check = CHECK_COST if weighted else 1.0
            cost += n_keys * (probe + check * n_database / 2.0 ** int(width))
    return cost


def radius_substrings(n_bits, n_database, radius):
    """Number of tables a radius-``radius`` search should use: the cheapest expected cost.

    At most the default (Norouzi's ``log2(n_database)``-bit substrings, which kNN and large
    radii use) and at least ``n_bits / 32``: fewer, wider tables probe fewer buckets and
    check fewer codes at small radii, but need more probes as the radius grows.
    """
    default = len(substring_widths(n_bits, n_database))
    fewest = len(substring_widths(n_bits, n_database, 1))
    costs = {
        m: expected_cost(substring_widths(n_bits, n_database, m), n_database, radius)
        for m in range(fewest, default + 1)
    }
    # ties (and near ties, within the model's accuracy) go to the default: no extra tables
    best = min(costs, key=costs.get)
    return default if costs[default] <= 1.1 * costs[best] else best
