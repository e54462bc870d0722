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


def expected_cost(widths, n_database, radius):
    """Buckets probed plus codes checked by a radius-``radius`` search on uniform codes."""
    m, cost = len(widths), 0.0
    for s in range(int(max(widths)) + 1):
        for t, width in enumerate(widths):
            if m * s + t > radius:
                return cost
            n_keys = comb(int(width), s)
            cost += n_keys * (1.0 + n_database / 2.0 ** int(width))
    return cost
