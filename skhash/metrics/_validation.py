"""Input checks, chunking and warnings shared by the retrieval metrics."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from ..index import DEFAULT_MEMORY_BUDGET
from ..index._backend import dense_ranks
from ..utils.validation import check_labels, check_same_label_kind, relevance

__all__ = ["TieOrderWarning"]

# Upper bound in bytes on the float64 temporaries one chunk of queries may use: half the
# budget of a search's temporary memory (the distances themselves take the other half).
_CHUNK_BYTES = DEFAULT_MEMORY_BUDGET // 2

# Distances up to n_database + this are counted in per-distance histograms; larger values are
# first replaced by their rank within the query's row (same order, same ties).
_HISTOGRAM_SLACK = 1024

# Largest float that still holds every integer exactly.
_FLOAT_EXACT = 2**53


class TieOrderWarning(UserWarning):
    """Warning: the score depends on the order of the database among tied items.

    Raised when ties in Hamming distance are broken by database order while the database
    looks sorted by label: items of one class then come first among ties, which inflates
    the ranking metrics. Use ``tie_aware=True``, shuffle the database, or pass ``tie_break``.
    """


def check_retrieval_inputs(y_query, y_database, distances):
    """Validate the ``(y_query, y_database, distances)`` triple of every metric.

    Returns
    -------
    y_query, y_database : ndarray
        Labels as returned by :func:`~skhash.utils.validation.check_labels`.
    distances : ndarray of shape (n_queries, n_database)
        Non-negative integer distances (see :func:`check_distances`).
    """
    distances = check_distances(distances)
    n_queries, n_database = distances.shape
    y_query, y_database = check_label_pair(y_query, y_database, n_queries, n_database)
    return y_query, y_database, distances


def check_label_pair(y_query, y_database, n_queries, n_database):
    """Validate query and database labels against each other and the distance shape."""
    for name, y in (("y_query", y_query), ("y_database", y_database)):
        if y is None:
            raise ValueError(
                f"{name} is required: retrieval metrics rank by relevance, which comes from "
                "the labels; got None."
            )
    for name, y, n, axis in (
        ("y_query", y_query, n_queries, "rows (queries)"),
        ("y_database", y_database, n_database, "columns (database items)"),
    ):
        n_labels = len(y) if hasattr(y, "__len__") and getattr(y, "ndim", 1) != 0 else None
        if n_labels != n:
            raise ValueError(
                f"{name} has {'no' if n_labels is None else n_labels} labels, but distances "
                f"has {n} {axis}: distances must be of shape (n_queries, n_database)."
            )
    y_database = check_labels(y_database, n_samples=n_database, name="y_database")
    y_query = check_labels(y_query, n_samples=n_queries, like=y_database, name="y_query")
    check_same_label_kind(y_query, y_database)
    return y_query, y_database


def check_distances(distances):
    """Validate a distance matrix: 2-D, finite, non-negative integers.

    Integer arrays are returned as they are; floats holding integers are converted to int64
    when every value is exact in a float (below 2**53), and are kept as float64 otherwise, so
    that a huge value is never wrapped around into a negative one.
    """
    distances = np.asarray(distances)
    if distances.dtype.kind not in "iuf":
        raise TypeError(
            f"distances must be a numeric (integer) Hamming distance matrix; got dtype "
            f"{distances.dtype}."
        )
    if distances.ndim != 2:
        raise ValueError(
            f"distances must be a 2-D array of shape (n_queries, n_database); got shape "
            f"{distances.shape}."
        )
    if distances.shape[0] == 0 or distances.shape[1] == 0:
        raise ValueError(
            f"distances needs at least one query and one database item; got shape "
            f"{distances.shape}."
        )
    if distances.dtype.kind == "f":
        if not np.isfinite(distances).all():
            raise ValueError("distances contains NaN or infinity.")
        if (distances != np.round(distances)).any():
            raise ValueError(
                "distances must hold integer Hamming distances; got fractional values."
            )
    if distances.min() < 0:
        raise ValueError("distances must be non-negative; got negative values.")
    if distances.dtype.kind == "f":
        exact = distances.max() < _FLOAT_EXACT
        distances = distances.astype(np.int64 if exact else np.float64)
    return distances


def rank_values(distances):
    """Distances of a chunk as small integers with the same order and ties in each row.

    Returns ``(values, n_values)``: the distances themselves when they are small, else each
    distance replaced by the rank of its value among the distinct values of its row (so
    histograms over distance values never exceed the number of database items).
    """
    n_database = distances.shape[1]
    largest = distances.max()
    if largest < n_database + _HISTOGRAM_SLACK:
        return distances.astype(np.int64, copy=False), int(largest) + 1
    ranks = dense_ranks(distances, dtype=np.int64)
    return ranks, int(ranks.max()) + 1


def check_k(k, n_database, *, name="k", allow_array=False, clip=False):
    """Validate ``k``: an integer >= 1 (or a 1-D array of them when ``allow_array``).

    Returns ``(ks, scalar)``: a 1-D int64 array and whether ``k`` was a single integer.
    Values above ``n_database`` are clipped when ``clip``, else refused. Integers of any size
    are accepted (one beyond int64 is simply above ``n_database``).
    """
    scalar = np.ndim(k) == 0
    if scalar:
        if isinstance(k, bool | np.bool_) or not isinstance(k, Integral | np.integer):
            raise TypeError(f"{name} must be an integer; got {k!r}.")
        values = [k]
    elif not allow_array:
        raise TypeError(f"{name} must be a single integer; got {k!r}.")
    else:
        array = np.asarray(k)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{name} must be an integer or a non-empty 1-D array of integers.")
        if array.dtype.kind == "O" and all(
            isinstance(v, Integral) and not isinstance(v, bool) for v in array
        ):
            values = list(array)  # Python integers too large for int64
        elif array.dtype.kind in "iu":
            values = array
        else:
            raise TypeError(f"{name} must hold integers; got dtype {array.dtype}.")
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be >= 1; got {k!r}.")
    if any(v > n_database for v in values):
        if not clip:
            raise ValueError(
                f"{name} must be <= n_database, the number of database items ({n_database}); "
                f"got {k!r}."
            )
    ks = np.array([min(int(v), n_database) for v in values], dtype=np.int64)
    return ks, scalar


def check_zero_division(zero_division):
    """``zero_division`` must be 0, 1 or NaN."""
    if (
        isinstance(zero_division, bool)
        or not isinstance(zero_division, Real)
        or not (np.isnan(zero_division) or zero_division in (0, 1))
    ):
        raise ValueError(f"zero_division must be 0, 1 or np.nan; got {zero_division!r}.")
    return float(zero_division)


def check_option(value, name, options):
    """``value`` must be one of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}.")
    return value


def check_tie_break(tie_break, n_queries, n_database, *, tie_aware):
    """Validate an explicit tie-break order: None, one permutation, or one per query."""
    if tie_break is None:
        return None
    if tie_aware:
        raise ValueError(
            "tie_break orders tied items, while tie_aware=True averages over every order of "
            "them: pass one or the other."
        )
    order = np.asarray(tie_break)
    if order.dtype.kind not in "iu" or order.ndim not in (1, 2):
        raise TypeError(
            "tie_break must be a permutation of range(n_database) (1-D int array) or one per "
            f"query (2-D); got dtype {order.dtype} and shape {order.shape}."
        )
    expected = (n_database,) if order.ndim == 1 else (n_queries, n_database)
    if order.shape != expected:
        raise ValueError(f"tie_break must have shape {expected}; got {order.shape}.")
    rows = order.reshape(-1, n_database)
    if not (np.sort(rows, axis=1) == np.arange(n_database)).all():
        raise ValueError(
            "tie_break must hold permutations of range(n_database): each database index once."
        )
    return order.astype(np.intp, copy=False)


def iter_query_chunks(y_query, y_database, distances, *, tie_break=None):
    """Yield ``(rows, relevant, distances)`` for chunks of queries.

    ``relevant`` is the bool relevance matrix of the chunk; chunks are sized so that a float64
    copy of a chunk, or a histogram over its distance values, stays under a fixed budget.
    With ``tie_break``, the columns of each chunk come in that order (per query when 2-D), so
    that a stable sort breaks ties by it.
    """
    n_queries, n_database = distances.shape
    row_bytes = 8 * (n_database + _HISTOGRAM_SLACK)
    chunk = max(1, min(n_queries, _CHUNK_BYTES // row_bytes))
    for start in range(0, n_queries, chunk):
        rows = slice(start, min(start + chunk, n_queries))
        dist = distances[rows]
        relevant = relevance(y_query[rows], y_database)
        if tie_break is not None:
            order = np.broadcast_to(tie_break, (n_queries, n_database))[rows]
            dist = np.take_along_axis(dist, order, axis=1)
            relevant = np.take_along_axis(relevant, order, axis=1)
        yield rows, relevant, dist


def distance_histograms(relevant, distances, n_values):
    """Per query, the number of items and of relevant items at each distance.

    Returns two int64 arrays of shape ``(n_queries, n_values)``; distances at or above
    ``n_values`` are counted in the last column.
    """
    n_rows = len(distances)
    offsets = (np.arange(n_rows, dtype=np.int64) * n_values)[:, None]
    flat = np.minimum(distances, n_values - 1) + offsets
    size = n_rows * n_values
    counts = np.bincount(flat.ravel(), minlength=size).reshape(n_rows, n_values)
    hits = np.bincount(flat[relevant], minlength=size).reshape(n_rows, n_values)
    return counts, hits


def mean_over_queries(values, what="the score"):
    """Mean over axis 0 ignoring NaN (left-out queries); NaN with a warning if all are left out."""
    values = np.asarray(values, dtype=float)
    kept = ~np.isnan(values)
    n_kept = kept.sum(axis=0)
    if np.any(n_kept == 0):
        warnings.warn(
            f"No query is left to average in {what} (all were left out as undefined): the "
            "mean is NaN.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    with np.errstate(invalid="ignore"):
        return np.where(kept, values, 0.0).sum(axis=0) / n_kept


def looks_sorted_by_label(y_database):
    """Whether the database labels come in blocks, far fewer than a random order would give.

    Counts the runs of equal labels (rows, for indicator matrices) and compares them with
    the number a random order gives on average, ``1 + (n - 1)(1 - sum_c p_c^2)``.
    """
    n = len(y_database)
    if n < 3:
        return False
    if y_database.ndim == 1:
        changes = y_database[1:] != y_database[:-1]
        _, counts = np.unique(y_database, return_counts=True)
    else:
        changes = (y_database[1:] != y_database[:-1]).any(axis=1)
        _, counts = np.unique(y_database, axis=0, return_counts=True)
    if len(counts) < 2:
        return False
    n_runs = 1 + int(np.count_nonzero(changes))
    expected_runs = 1 + (n - 1) * (1 - np.sum((counts / n) ** 2))
    return n_runs <= 2 * len(counts) and 4 * n_runs <= expected_runs


def warn_if_tie_order_matters(y_database, max_distance, *, stacklevel=3):
    """Warn when ties are broken by database order and the database looks sorted by label.

    Ties are certain when there are more database items than distinct distances.
    """
    n_database = len(y_database)
    if n_database > max_distance + 1 and looks_sorted_by_label(y_database):
        warnings.warn(
            "The database labels look sorted by class, and ties in Hamming distance are "
            "broken by database order: items of one class come first among ties, which "
            "inflates the ranking metrics. Pass tie_aware=True (the expectation over every "
            "order of the ties; the default of score() and the scorers), shuffle the "
            "database, or give an explicit tie_break.",
            TieOrderWarning,
            stacklevel=stacklevel,
        )
