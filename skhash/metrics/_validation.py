"""Input checks and chunking shared by the retrieval metrics."""

from numbers import Integral

import numpy as np

from ..utils.validation import check_labels, relevance

# Upper bound in bytes on the float64 temporaries one chunk of queries may use.
_CHUNK_BYTES = 32 * 2**20


def check_retrieval_inputs(y_query, y_database, distances):
    """Validate the ``(y_query, y_database, distances)`` triple of every metric.

    Returns
    -------
    y_query, y_database : ndarray
        Labels as returned by :func:`~skhash.utils.validation.check_labels`.
    distances : ndarray of shape (n_queries, n_database)
        Non-negative integer distances (integer input is not copied).
    """
    distances = check_distances(distances)
    n_queries, n_database = distances.shape
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
        if np.ndim(y) == 0 or len(y) != n:
            raise ValueError(
                f"{name} has {np.shape(y)[0] if np.ndim(y) else 'no'} labels, but distances has "
                f"{n} {axis}: distances must be of shape (n_queries, n_database)."
            )
    y_database = check_labels(y_database, n_samples=n_database, name="y_database")
    y_query = check_labels(y_query, n_samples=n_queries, like=y_database, name="y_query")
    if y_query.ndim == 1:
        kinds = {_label_kind(y_query), _label_kind(y_database)}
        if len(kinds) > 1:
            raise TypeError(
                f"y_query and y_database hold labels of different types ({y_query.dtype} and "
                f"{y_database.dtype}): no query could share a label with a database item."
            )
    return y_query, y_database, distances


def _label_kind(y):
    if y.dtype.kind in "biuf":
        return "number"
    if y.dtype.kind == "O":
        return "number" if all(isinstance(v, int | float | np.number) for v in y) else "object"
    return "string"


def check_distances(distances):
    """Validate a Hamming distance matrix: 2-D, finite, non-negative integers."""
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
        distances = distances.astype(np.int64)
    if distances.min() < 0:
        raise ValueError("distances must be non-negative; got negative values.")
    return distances


def check_k(k, n_database, *, name="k", allow_array=False, clip=False):
    """Validate ``k``: an integer >= 1 (or a 1-D array of them when ``allow_array``).

    Returns ``(ks, scalar)``: a 1-D int64 array and whether ``k`` was a single integer.
    Values above ``n_database`` are clipped when ``clip``, else refused.
    """
    scalar = np.ndim(k) == 0
    if scalar:
        if isinstance(k, bool | np.bool_) or not isinstance(k, Integral | np.integer):
            raise TypeError(f"{name} must be an integer; got {k!r}.")
    elif not allow_array:
        raise TypeError(f"{name} must be a single integer; got {k!r}.")
    ks = np.atleast_1d(np.asarray(k))
    if not scalar:
        if ks.ndim != 1 or ks.size == 0:
            raise ValueError(f"{name} must be an integer or a non-empty 1-D array of integers.")
        if ks.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers; got dtype {ks.dtype}.")
    ks = ks.astype(np.int64)
    if (ks < 1).any():
        raise ValueError(f"{name} must be >= 1; got {k!r}.")
    if (ks > n_database).any():
        if not clip:
            raise ValueError(
                f"{name} must be <= n_database, the number of database items ({n_database}); "
                f"got {k!r}."
            )
        ks = np.minimum(ks, n_database)
    return ks, scalar


def check_zero_division(zero_division):
    """``zero_division`` must be 0, 1 or NaN."""
    if (
        isinstance(zero_division, bool)
        or not isinstance(zero_division, int | float | np.number)
        or not (np.isnan(zero_division) or zero_division in (0, 1))
    ):
        raise ValueError(f"zero_division must be 0, 1 or np.nan; got {zero_division!r}.")
    return float(zero_division)


def iter_query_chunks(y_query, y_database, distances, *, row_bytes=None):
    """Yield ``(rows, relevant, distances)`` for chunks of queries.

    ``relevant`` is the bool relevance matrix of the chunk; chunks are sized so that a float64
    copy of a chunk stays under a fixed budget.
    """
    n_queries, n_database = distances.shape
    row_bytes = 8 * n_database if row_bytes is None else row_bytes
    chunk = max(1, min(n_queries, _CHUNK_BYTES // max(1, row_bytes)))
    for start in range(0, n_queries, chunk):
        rows = slice(start, min(start + chunk, n_queries))
        yield rows, relevance(y_query[rows], y_database), distances[rows]


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


def safe_mean(values):
    """Mean ignoring NaN; NaN when every value is NaN."""
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    return float(values[keep].mean()) if keep.any() else float("nan")
