"""Hashing and Hamming search over data spread across machines, on Dask.

skhash does not run a cluster of its own: it hands the work to Dask, which runs the same code
on a laptop's threads or on a ``distributed`` cluster of many machines. Two pieces:

- :func:`transform_dask` encodes a row-chunked Dask array with a fitted hasher, block by block,
  where the blocks live;
- :class:`DaskHammingIndex` keeps one :class:`~skhash.index.HammingIndex` shard per block of a
  code array (on the workers, with ``persist``) and answers exact kNN and radius queries by
  searching every shard in parallel and merging the partial answers. Results equal a single
  index over all codes, ties included (by global database order).

Requires ``dask[array]`` (``pip install "skhash[dask]"``); ``distributed`` for a cluster.
"""

from numbers import Integral

import numpy as np

from .index import HammingIndex, check_codes

__all__ = ["DaskHammingIndex", "transform_dask"]


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised only without dask
        raise ImportError(
            'skhash.distributed needs dask: pip install "skhash[dask]" (dask[array]).'
        ) from exc
    return dask, da


def _as_row_chunked(X, name):
    """A Dask array chunked along rows only (numpy input becomes one chunk)."""
    _, da = _import_dask()
    X = X if isinstance(X, da.Array) else da.from_array(np.asarray(X), chunks=(-1,) * np.ndim(X))
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array; got {X.ndim} dimensions.")
    return X.rechunk({1: -1})


def transform_dask(hasher, X):
    """Binary codes of a Dask array, encoded block by block where the blocks are.

    Parameters
    ----------
    hasher : fitted hasher
        Any skhash estimator (it is sent to the workers with each task).
    X : dask array of shape (n_samples, n_features)
        Rows may be chunked freely; each row block is encoded on its own.

    Returns
    -------
    codes : dask array of shape (n_samples, n_bits), dtype uint8

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQ
    >>> from skhash.distributed import transform_dask
    >>> X, y = load_digits(return_X_y=True)
    >>> itq = ITQ(n_bits=16, random_state=0).fit(X, y)
    >>> codes = transform_dask(itq, da.from_array(X, chunks=(500, 64)))
    >>> codes.shape, codes.chunks[0]
    ((1797, 16), (500, 500, 500, 297))
    """
    X = _as_row_chunked(X, "X")
    n_bits = hasher.transform(np.asarray(X[:1])).shape[1]
    return X.map_blocks(hasher.transform, dtype=np.uint8, chunks=(X.chunks[0], (n_bits,)))


def _shard_knn(index, queries, n_neighbors, offset):
    k = min(n_neighbors, index.n_indexed_)
    if k == 0:
        return np.empty((len(queries), 0), np.int32), np.empty((len(queries), 0), np.int64)
    dist, ind = index.kneighbors(queries, n_neighbors=k)
    return dist, ind + offset


def _merge_knn(parts, n_neighbors, n_total):
    dist = np.concatenate([p[0] for p in parts], axis=1).astype(np.int64)
    ind = np.concatenate([p[1] for p in parts], axis=1)
    keys = dist * n_total + ind
    best = np.sort(np.partition(keys, n_neighbors - 1, axis=1)[:, :n_neighbors], axis=1)
    return (best // n_total).astype(np.int32), best % n_total


def _build_shard(block, backend, n_jobs):
    return HammingIndex(backend=backend, n_jobs=n_jobs).fit(block)


def _shard_radius(index, queries, radius, offset):
    dist, ind = index.radius_neighbors(queries, radius=radius)
    for i in range(len(ind)):
        ind[i] = ind[i] + offset
    return dist, ind


def _merge_radius(parts):
    n_queries = len(parts[0][0])
    dist_out = np.empty(n_queries, dtype=object)
    ind_out = np.empty(n_queries, dtype=object)
    for q in range(n_queries):
        dist = np.concatenate([p[0][q] for p in parts])
        ind = np.concatenate([p[1][q] for p in parts])
        order = np.lexsort((ind, dist))
        dist_out[q], ind_out[q] = dist[order], ind[order]
    return dist_out, ind_out


class DaskHammingIndex:
    """Exact Hamming search over codes sharded across Dask workers.

    Each row block of the code array becomes one :class:`~skhash.index.HammingIndex` shard,
    built and kept where the block lives (``dask.persist``: on the workers of an active
    ``distributed.Client``, in local memory otherwise). A query batch is sent to every shard;
    each returns its own top ``k`` (or its radius matches) with global indices, and one merge
    task keeps the ``k`` best by ``(distance, index)``. The answer equals a single
    :class:`~skhash.index.HammingIndex` over all the codes.

    Parameters
    ----------
    backend : str, default="auto"
        Search backend of each shard (see :class:`~skhash.index.HammingIndex`).
    n_jobs : int, default=None
        Threads per shard search.

    Attributes
    ----------
    shards_ : list of dask.delayed
        One persisted ``HammingIndex`` per row block.
    offsets_ : ndarray of shape (n_shards,)
        Global index of each shard's first code.
    n_indexed_ : int
        Total number of codes.
    n_bits_ : int
        Bits per code.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skhash.distributed import DaskHammingIndex
    >>> codes = np.random.default_rng(0).integers(0, 2, size=(1000, 32))
    >>> index = DaskHammingIndex().fit(da.from_array(codes, chunks=(250, 32)))
    >>> len(index.shards_), index.n_indexed_
    (4, 1000)
    >>> dist, ind = index.kneighbors(codes[:2], n_neighbors=3)
    >>> ind[:, 0]
    array([0, 1])
    """

    def __init__(self, backend="auto", n_jobs=None):
        self.backend = backend
        self.n_jobs = n_jobs

    def fit(self, codes):
        """Shard ``codes`` (a Dask or numpy array of {0, 1}) by row block and index each block."""
        dask, _ = _import_dask()
        codes = _as_row_chunked(codes, "codes")
        self.n_bits_ = int(codes.shape[1])
        sizes = np.asarray(codes.chunks[0], dtype=np.int64)
        self.offsets_ = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.n_indexed_ = int(sizes.sum())
        build = dask.delayed(_build_shard, pure=True)
        blocks = codes.to_delayed().ravel()
        self.shards_ = list(dask.persist(*[build(b, self.backend, self.n_jobs) for b in blocks]))
        return self

    @classmethod
    def from_hasher(cls, hasher, X, **params):
        """Encode a Dask array with a fitted hasher and index the codes, all on the workers."""
        return cls(**params).fit(transform_dask(hasher, X))

    def _check_queries(self, codes):
        if not hasattr(self, "shards_"):
            raise ValueError("This DaskHammingIndex is not fitted yet: call fit(codes) first.")
        return check_codes(codes, n_bits=self.n_bits_, name="query codes")

    def kneighbors(self, codes, n_neighbors=10, return_distance=True):
        """Exact ``n_neighbors`` nearest codes: ``(dist, ind)`` with global database indices."""
        dask, _ = _import_dask()
        queries = self._check_queries(codes)
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
            raise TypeError(f"n_neighbors must be an integer; got {n_neighbors!r}.")
        if not 1 <= n_neighbors <= self.n_indexed_:
            raise ValueError(
                f"Expected 1 <= n_neighbors <= n_indexed={self.n_indexed_}; got {n_neighbors}."
            )
        search = dask.delayed(_shard_knn, pure=True)
        parts = [
            search(shard, queries, int(n_neighbors), int(offset))
            for shard, offset in zip(self.shards_, self.offsets_, strict=True)
        ]
        merged = dask.delayed(_merge_knn, pure=True)(parts, int(n_neighbors), self.n_indexed_)
        dist, ind = merged.compute()
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, codes, radius=2, return_distance=True):
        """Every code within ``radius``, nearest first, ties by global index (object arrays)."""
        dask, _ = _import_dask()
        queries = self._check_queries(codes)
        search = dask.delayed(_shard_radius, pure=True)
        parts = [
            search(shard, queries, radius, int(offset))
            for shard, offset in zip(self.shards_, self.offsets_, strict=True)
        ]
        dist, ind = dask.delayed(_merge_radius, pure=True)(parts).compute()
        return (dist, ind) if return_distance else ind
