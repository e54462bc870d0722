"""Hashing and Hamming search over data spread across machines, on Dask.

skhash does not run a cluster of its own: it hands the work to Dask, which runs the same code
on a laptop's threads or on a ``distributed`` cluster of many machines. Two pieces:

- :func:`transform_dask` encodes a row-chunked Dask array with a fitted hasher, block by block,
  where the blocks live;
- :class:`DaskHammingIndex` keeps one :class:`~skhash.index.HammingIndex` shard per block of a
  code array, built by the worker that holds the block and kept there (``persist``): the
  codes never travel to one process. Exact kNN and radius queries search every shard in
  parallel and merge the partial answers (a tree of merges), which equals a single index
  over all codes, ties included (by global database order).

Every entry point checks its arguments when called (shapes, dtypes, parameters), not when
the graph runs; the values of the codes and the uniqueness of ids are checked on the
workers while ``fit`` waits for the shards.

Requires ``dask[array]`` (``pip install "skhash[dask]"``); ``distributed`` for a cluster.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .index import DEFAULT_MEMORY_BUDGET, HammingIndex
from .index._backend import merge_top_k, split_by_counts, to_object_array
from .index._checks import check_n_neighbors, check_radius
from .index._ids import _listed, as_id_array
from .index._packing import as_words, check_code_array

__all__ = ["DaskHammingIndex", "transform_dask"]

MERGE_FAN_IN = 8  # partial answers merged by one task (a tree of merges past that)


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised only without dask
        raise ImportError(
            'skhash.distributed needs dask: pip install "skhash[dask]" (dask[array]).'
        ) from exc
    return dask, da


def _as_dask(X, name, ndim=2):
    """A Dask array (numpy input becomes one chunk) of ``ndim`` dimensions."""
    _, da = _import_dask()
    if not isinstance(X, da.Array):
        X = np.asarray(X)
        X = da.from_array(X, chunks=(-1,) * X.ndim)
    if X.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got {X.ndim} dimensions.")
    return X


def _as_row_chunked(X, name):
    """A 2-D Dask array chunked along rows only."""
    return _as_dask(X, name).rechunk({1: -1})


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
    check_is_fitted(hasher)
    X = _as_row_chunked(X, "X")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers; got dtype {X.dtype}.")
    n_features = getattr(hasher, "n_features_in_", None)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(hasher).__name__} was fitted with "
            f"{n_features} features."
        )
    n_bits = len(hasher.get_feature_names_out())
    return X.map_blocks(hasher.transform, dtype=np.uint8, chunks=(X.chunks[0], (n_bits,)))


# -- tasks run on the workers ---------------------------------------------------------------
def _build_shard(block, ids, params, packed, n_bits):
    return HammingIndex(**params).fit(block, ids=ids, packed=packed, n_bits=n_bits)


def _shard_size(shard):
    return shard.n_indexed_


def _id_parts(shard, n_parts):
    """The shard's ids split by ``id % n_parts``: part ``p`` meets part ``p`` of others."""
    ids = shard.ids_
    part = ids % n_parts
    return tuple(ids[part == p] for p in range(n_parts))


def _repeated(*parts):
    ids = np.sort(np.concatenate(parts))
    return np.unique(ids[1:][np.diff(ids) == 0])


def _held(shard, ids, offset):
    """Which of ``ids`` the shard holds: by id, or by global position when it has none."""
    if shard.ids_ is not None:
        return shard._db.lookup().contains(ids)
    return (ids >= offset) & (ids < offset + shard.n_indexed_)


def _shard_without(shard, ids, offset):
    """A new shard without ``ids``, and the global positions they had."""
    shard = copy.copy(shard)  # the persisted shard stays as it was
    local = ids if shard.ids_ is not None else ids - offset
    return shard, shard.remove(local) + offset


def _shard_knn(shard, queries, n_neighbors, offset):
    """The shard's top ``k``: ``(dist, global positions, ids or None)``."""
    _, dist, pos = shard._kneighbors_positions(queries, min(n_neighbors, shard.n_indexed_), True)
    ids = None if shard.ids_ is None else shard.ids_[pos]
    return dist, pos + offset, ids


def _merge_knn(parts, n_neighbors):
    dist = np.concatenate([p[0] for p in parts], axis=1)
    pos = np.concatenate([p[1] for p in parts], axis=1)
    if parts[0][2] is None:
        return (*merge_top_k(dist, pos, min(n_neighbors, dist.shape[1])), None)
    ids = np.concatenate([p[2] for p in parts], axis=1)
    return merge_top_k(dist, pos, min(n_neighbors, dist.shape[1]), payload=ids)


def _shard_radius(shard, queries, radius, offset):
    """The shard's hits, flat: ``(hits per query, dist, global positions, ids or None)``."""
    database = shard._snapshot()
    dist, pos = shard._search(database, "radius", queries, radius)
    counts = np.array([len(p) for p in pos], dtype=np.int64)
    pos = np.concatenate([np.empty(0, np.int64), *pos])
    ids = None if database.ids is None else database.ids[pos]
    return counts, np.concatenate([np.empty(0, np.int32), *dist]), pos + offset, ids


def _merge_radius(parts):
    """Flat hits of several shards as one, each query's sorted by (distance, position)."""
    counts = sum(p[0] for p in parts)
    query = np.concatenate([np.repeat(np.arange(len(p[0])), p[0]) for p in parts])
    dist = np.concatenate([p[1] for p in parts])
    pos = np.concatenate([p[2] for p in parts])
    order = np.lexsort((pos, dist, query))
    ids = None if parts[0][3] is None else np.concatenate([p[3] for p in parts])[order]
    return counts, dist[order], pos[order], ids


def _merge_tree(parts, merge, *args):
    """Merge partial answers ``MERGE_FAN_IN`` at a time until one is left (delayed)."""
    dask, _ = _import_dask()
    task = dask.delayed(merge, pure=True)
    while len(parts) > 1:
        parts = [
            task(parts[i : i + MERGE_FAN_IN], *args) for i in range(0, len(parts), MERGE_FAN_IN)
        ]
    return parts[0]


class DaskHammingIndex(BaseEstimator):
    """Exact Hamming search over codes sharded across Dask workers.

    Each row block of the code array becomes one :class:`~skhash.index.HammingIndex` shard,
    built by the worker that computes or holds the block and kept there (``dask.persist``:
    on the workers of an active ``distributed.Client``, in local memory otherwise); the
    codes never gather in one process. A query batch is sent to every shard; each returns
    its own top ``k`` (or its radius matches) with global positions, and a tree of merge
    tasks keeps the ``k`` best by ``(distance, position)``. The answer equals a single
    :class:`~skhash.index.HammingIndex` over all the codes, in shard order. A worker lost
    during a search is replaced by Dask, which rebuilds its shards from their blocks.

    Parameters
    ----------
    backend : str, default="auto"
        Search backend of each shard (see :class:`~skhash.index.HammingIndex`).
    n_jobs : int, default=None
        Threads per shard search.
    memory_budget : int, default=64 MiB
        Temporary memory bound of each shard search.

    Attributes
    ----------
    shards_ : list of dask.delayed
        One persisted ``HammingIndex`` per row block.
    shard_sizes_ : ndarray of shape (n_shards,)
        Codes held by each shard.
    offsets_ : ndarray of shape (n_shards,)
        Global position of each shard's first code.
    n_indexed_ : int
        Total number of codes.
    n_bits_ : int
        Bits per code.
    has_ids_ : bool
        Whether the codes carry user ids (searches then return ids, else global positions).

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

    def __init__(self, backend="auto", n_jobs=None, memory_budget=DEFAULT_MEMORY_BUDGET):
        self.backend = backend
        self.n_jobs = n_jobs
        self.memory_budget = memory_budget

    def _shard_params(self):
        params = {"backend": self.backend, "n_jobs": self.n_jobs}
        params["memory_budget"] = self.memory_budget
        HammingIndex(**params)._validate_params()  # eager: a bad backend fails here
        return params

    def _build(self, codes, ids, packed, n_bits):
        """Persisted shards of ``codes`` (checked eagerly), their sizes and code length."""
        dask, _ = _import_dask()
        codes = _as_row_chunked(codes, "codes")
        n_bits = check_code_array(codes, packed=packed, n_bits=n_bits)
        blocks = codes.to_delayed().ravel()
        id_blocks = [None] * len(blocks)
        if ids is not None:
            ids = _as_dask(ids, "ids", ndim=1)
            if ids.dtype.kind not in "iu":
                raise TypeError(f"ids must be integers (int64); got dtype {ids.dtype}.")
            if len(ids) != len(codes):
                raise ValueError(
                    f"Expected one id per code: {len(codes)} codes, but {len(ids)} ids."
                )
            id_blocks = ids.rechunk((codes.chunks[0],)).to_delayed().ravel()
        build = dask.delayed(_build_shard, pure=True)
        params = self._shard_params()
        shards = dask.persist(
            *[build(b, i, params, packed, n_bits) for b, i in zip(blocks, id_blocks, strict=True)]
        )
        # wait for the shards: errors in the values of a block surface here
        sizes = dask.compute(*[dask.delayed(_shard_size)(s) for s in shards])
        return list(shards), np.asarray(sizes, dtype=np.int64), n_bits

    def _check_unique_ids(self, shards):
        """Raise if an id is in two shards (checked on the workers, by id hash partition)."""
        dask, _ = _import_dask()
        n_parts = len(shards)
        parts = [dask.delayed(_id_parts, nout=n_parts)(s, n_parts) for s in shards]
        checks = [dask.delayed(_repeated)(*[p[i] for p in parts]) for i in range(n_parts)]
        repeated = np.concatenate(dask.compute(*checks))
        if len(repeated):
            raise ValueError(f"ids must be unique; repeated: {_listed(np.sort(repeated))}.")

    def _set_shards(self, shards, sizes, n_bits, has_ids):
        self.shards_, self.shard_sizes_ = shards, sizes
        self.offsets_ = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.n_indexed_, self.n_bits_, self.has_ids_ = int(sizes.sum()), n_bits, has_ids

    def fit(self, codes, ids=None, *, packed=False, n_bits=None):
        """Shard ``codes`` by row block and index each block on the worker holding it.

        Parameters
        ----------
        codes : dask array or array-like of shape (n_samples, n_bits)
            Codes in {0, 1}, or packed (``packed=True``) as :meth:`HammingIndex.fit`
            takes them. Each row chunk becomes a shard.
        ids : dask array or array-like of shape (n_samples,), default=None
            Distinct int64 ids, returned by searches in place of global positions.
        packed : bool, default=False
            Whether ``codes`` are packed bytes or words.
        n_bits : int, default=None
            Code length of packed codes, as in :meth:`HammingIndex.fit`.

        Returns
        -------
        self : DaskHammingIndex
        """
        shards, sizes, n_bits = self._build(codes, ids, packed, n_bits)
        if ids is not None:
            self._check_unique_ids(shards)
        self._set_shards(shards, sizes, n_bits, ids is not None)
        return self

    def add(self, codes, ids=None, *, packed=False):
        """Index more codes as new shards (their positions follow the existing ones)."""
        self._check_fitted()
        if (ids is None) == self.has_ids_:
            raise ValueError(
                "The index has ids: add() needs ids for the new codes."
                if self.has_ids_
                else "The index was fitted without ids: add() cannot take ids."
            )
        shards, sizes, n_bits = self._build(codes, ids, packed, self.n_bits_)
        if ids is not None:
            self._check_unique_ids(self.shards_ + shards)
        self._set_shards(
            self.shards_ + shards,
            np.concatenate([self.shard_sizes_, sizes]),
            n_bits,
            self.has_ids_,
        )
        return self

    def remove(self, ids):
        """Remove the codes with these ids (global positions when the index has no ids).

        Returns
        -------
        positions : ndarray of shape (n_removed,), dtype int64
            The global positions the removed codes had, ascending.
        """
        dask, _ = _import_dask()
        self._check_fitted()
        ids = np.unique(as_id_array(ids))
        held = dask.compute(
            *[
                dask.delayed(_held)(s, ids, o)
                for s, o in zip(self.shards_, self.offsets_, strict=True)
            ]
        )
        missing = ~np.logical_or.reduce([np.zeros(len(ids), bool), *held])
        if missing.any():
            raise ValueError(f"ids not in the index: {_listed(ids[missing])}.")
        shards, sizes, removed = list(self.shards_), self.shard_sizes_.copy(), []
        for s, (offset, mask) in enumerate(zip(self.offsets_, held, strict=True)):
            if mask.any():  # a new shard without them; the old one stays until the swap
                pair = dask.delayed(_shard_without, nout=2)(shards[s], ids[mask], offset)
                shards[s] = pair[0]
                removed.append(pair[1])
                sizes[s] -= mask.sum()
        persisted = dask.persist(*shards, *removed)
        shards, removed = list(persisted[: len(shards)]), dask.compute(*persisted[len(shards) :])
        self._set_shards(shards, sizes, self.n_bits_, self.has_ids_)
        return np.sort(np.concatenate([np.empty(0, np.int64), *removed]))

    @classmethod
    def from_hasher(cls, hasher, X, ids=None, **params):
        """Encode a Dask array with a fitted hasher and index the codes, all on the workers."""
        return cls(**params).fit(transform_dask(hasher, X), ids=ids)

    def _check_fitted(self):
        if not hasattr(self, "shards_"):
            raise ValueError("This DaskHammingIndex is not fitted yet: call fit(codes) first.")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "shards_")

    def _search(self, shard_search, queries, arg, packed):
        """Delayed searches of every non-empty shard, and the delayed query words."""
        dask, _ = _import_dask()
        words, _ = as_words(queries, packed=packed, n_bits=self.n_bits_, name="query codes")
        words = dask.delayed(words)  # one copy of the queries in the graph
        task = dask.delayed(shard_search, pure=True)
        parts = [
            task(shard, words, arg, int(offset))
            for shard, offset, size in zip(
                self.shards_, self.offsets_, self.shard_sizes_, strict=True
            )
            if size
        ]
        return parts, words

    def kneighbors(self, codes, n_neighbors=10, return_distance=True, *, packed=False):
        """Exact ``n_neighbors`` nearest codes: ``(dist, ind)``, ids or global positions.

        Arguments as in :meth:`HammingIndex.kneighbors` (``codes`` required).
        """
        self._check_fitted()
        k = check_n_neighbors(n_neighbors, self.n_indexed_)
        parts, _ = self._search(_shard_knn, codes, k, packed)
        dist, pos, ids = _merge_tree(parts, _merge_knn, k).compute()
        ind = pos if ids is None else ids
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, codes, radius=2, return_distance=True, *, packed=False):
        """Every code within ``radius``, nearest first, ties by global position.

        Arguments as in :meth:`HammingIndex.radius_neighbors` (``codes`` required).
        """
        self._check_fitted()
        radius = check_radius(radius, self.n_bits_)
        parts, words = self._search(_shard_radius, codes, radius, packed)
        if parts:
            counts, dist, pos, ids = _merge_tree(parts, _merge_radius).compute()
        else:
            counts = np.zeros(len(words.compute()), dtype=np.int64)
            dist, pos, ids = np.empty(0, np.int32), np.empty(0, np.int64), None
        ind = to_object_array(split_by_counts(pos if ids is None else ids, counts))
        if not return_distance:
            return ind
        return to_object_array(split_by_counts(dist, counts)), ind
