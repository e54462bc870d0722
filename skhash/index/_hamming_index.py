"""HammingIndex: exact Hamming search over packed binary codes, with ids."""

import os
import threading

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from ..utils.validation import Count, NJobs
from ._backend import DEFAULT_MEMORY_BUDGET, n_threads, to_object_array
from ._checks import check_n_neighbors, check_radius
from ._database import Database
from ._graph import check_graph_mode, knn_graph
from ._ids import as_id_array, check_ids
from ._packing import (
    BLOCK_SIZE,
    BlockedCodes,
    RowBuffer,
    as_blocked_codes,
    as_words,
    unpack_codes,
)
from ._search import BACKENDS, search, warm_up_for

__all__ = ["HammingIndex", "hamming_distances"]

_LOCK_GUARD = threading.Lock()


def _dense_codes(codes, name="codes"):
    """Refuse sparse matrices (which numpy would wrap as a 0-d object array) clearly."""
    if sp.issparse(codes):
        raise TypeError(
            f"{name} must be a dense array of binary codes; got a scipy sparse "
            f"{type(codes).__name__}. Pass codes.toarray() (codes are dense bits or packed "
            "bytes/words)."
        )
    return codes


def _without_self(dist, pos):
    """kNN of the database by itself: drop each code's own position (else the last)."""
    is_self = pos == np.arange(len(pos))[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    return dist[keep].reshape(len(pos), -1), pos[keep].reshape(len(pos), -1)


class HammingIndex(BaseEstimator):
    """Exact Hamming search over binary codes packed into 64-bit words.

    Codes are stored packed (``ceil(n_bits / 64)`` words of 8 bytes per item), in blocks of
    64 codes laid out word by word for the compiled scan. Queries are answered exactly,
    nearest first, ties broken by database order (position), and the search works through
    the database in blocks so memory stays bounded whatever the sizes.

    Items may carry int64 user ids (``fit(codes, ids)``, ``add(codes, ids)``): searches then
    return ids instead of positions, and :meth:`remove` takes ids. Positions are the row
    numbers of the codes in the database, in insertion order; a removal closes the gaps, so
    later positions move down (ids never change).

    ``fit``, ``add`` and ``remove`` build the new content aside and swap it in at the end:
    interrupted (Ctrl-C) or failed, they leave the index as it was; concurrent calls from
    threads are applied one after the other; a search running meanwhile sees the database
    before or after a change, never a mix. Long searches run in batches, between which
    Ctrl-C stops them.

    **Persistence.** :meth:`save` writes the index (codes and ids) to one file in skhash's
    own format, atomically, and :meth:`load` reads it back, with ``mmap=True`` mapping the
    codes from the file without reading them: loading is instant, processes that load the
    same file share its pages, and searches are exact. ``add`` and ``remove`` on a
    memory-mapped index work on a copy in memory (the file is never written). Nothing in
    the file is executed. ``joblib.dump`` / ``joblib.load(path, mmap_mode="r")`` work too,
    but unpickle: load such files only from trusted sources.

    Parameters
    ----------
    backend : {"auto", "numba", "mih", "numpy", "torch"}, default="auto"
        Search implementation; all return the same exact results.

        - ``"numba"``: compiled exhaustive scan (fused XOR + popcount, counting top-k).
        - ``"mih"``: multi-index hashing (Norouzi et al., 2012), sublinear for small radii
          and small k on large databases; its tables are built on first use and take
          about 2-3 times the memory of the codes (``nbytes`` counts them).
        - ``"numpy"``: portable XOR + ``np.bitwise_count`` scan; compiles nothing.
        - ``"torch"``: scan on a CUDA device with torch (optional dependency); the codes
          are copied to the GPU at the first search and kept there (not pickled).
        - ``"auto"``: ``"numpy"`` for small searches (under 10 million code
          comparisons: nothing to compile, so a first query is fast) until the compiled
          scan is there (loaded in a background thread, from numba's cache once compiled,
          when the database is large or numpy has done much work), multi-index hashing
          where it can pay (large database, small radius or k), each query's search capped
          at half a scan's cost: a query past the cap, or a whole batch whose first queries
          mostly are, is answered by ``"numba"``, as is everything else. Use ``"numba"``
          to keep the index at the size of the codes.
    n_jobs : int or None, default=-1
        Threads of a search, as joblib counts them: ``-1`` (the default) uses every core,
        as FAISS and BLAS do; ``1`` one thread; ``None`` has scikit-learn's meaning (1,
        or the ``n_jobs`` of an active ``joblib.parallel_config``). In a joblib worker
        (``GridSearchCV(n_jobs=...)``) the cores are those joblib leaves each worker. The
        count is resolved at each search (``n_threads_`` records it at ``fit``).
    memory_budget : int, default=64 MiB
        Upper bound in bytes on the temporary memory of a search: one block of distances,
        or the candidate buffers of a batch of kNN queries.

    Attributes
    ----------
    n_bits_ : int
        Number of bits of each code.
    n_indexed_ : int
        Number of codes in the database.
    ids_ : ndarray of shape (n_indexed,), dtype int64, or None
        The user id of each position (read-only), or None when no ids were given: searches
        then return positions and :meth:`remove` takes positions.
    packed_codes_ : ndarray of shape (n_indexed, n_words), dtype uint64
        The database codes, packed (a copy, made on access).
    n_threads_ : int
        The threads ``n_jobs`` gave at ``fit`` (as :class:`~sklearn.neighbors.
        NearestNeighbors` records ``_fit_method``): what a search on the same machine uses.
    backend_ : str
        The backend a large search uses: ``backend``, with ``"auto"`` resolved to
        ``"numba"`` (small searches may run on ``"numpy"``, and small radius or ``k`` on
        ``"mih"``, as ``backend`` describes).

    See Also
    --------
    pack_codes : The packing used by the index.
    hamming_distances : Full distance matrix between two sets of codes.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.index import HammingIndex
    >>> database = np.array([[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=np.uint8)
    >>> index = HammingIndex().fit(database)
    >>> dist, ind = index.kneighbors(np.array([[1, 0, 0, 0]]), n_neighbors=2)
    >>> dist, ind
    (array([[1, 1]], dtype=int32), array([[0, 1]]))
    >>> index.radius_neighbors(np.array([[1, 1, 1, 0]]), radius=1)[1][0]
    array([1, 2])

    With ids, and packed codes as FAISS takes them (``numpy.packbits``):

    >>> index = HammingIndex().fit(np.packbits(database, axis=1), ids=[10, 20, 30],
    ...                            packed=True, n_bits=4)
    >>> index.kneighbors(np.array([[1, 1, 1, 0]]), n_neighbors=2, return_distance=False)
    array([[20, 30]])
    >>> index.remove([20])
    array([1])
    >>> index.ids_
    array([10, 30])
    """

    _parameter_constraints = {
        "backend": [StrOptions(BACKENDS)],
        "n_jobs": [None, NJobs()],
        "memory_budget": [Count(1024)],
    }

    def __init__(self, backend="auto", n_jobs=-1, memory_budget=DEFAULT_MEMORY_BUDGET):
        self.backend = backend
        self.n_jobs = n_jobs
        self.memory_budget = memory_budget

    # -- the content ---------------------------------------------------------------------
    def fit(self, codes, ids=None, *, packed=False, n_bits=None, check_input=True):
        """Index ``codes``, replacing any previous content.

        Parameters
        ----------
        codes : array-like
            Binary codes: ``(n_samples, n_bits)`` numbers in {0, 1}, or with
            ``packed=True`` packed bytes or words. An empty database (0 rows) is allowed.
        ids : array-like of shape (n_samples,), dtype int, default=None
            Distinct int64 user ids, returned by searches in place of positions.
        packed : bool, default=False
            Whether ``codes`` are packed: ``(n, ceil(n_bits / 8))`` uint8 bytes in
            ``numpy.packbits`` order (as FAISS binary indexes take them), or
            ``(n, ceil(n_bits / 64))`` uint64 words as :func:`pack_codes` makes them.
            Needed because uint8 {0, 1} bits and packed bytes look alike.
        n_bits : int, default=None
            With ``packed=True``, the code length when it is not all the bits of the
            bytes or words (the unused high bits must then be zero).
        check_input : bool, default=True
            Check that the codes are in {0, 1}. ``False`` is for codes made by this
            library (a hasher's ``transform``): shapes and dtypes are still checked, and
            any nonzero value counts as 1.

        Returns
        -------
        self : HammingIndex
        """
        self._validate_params()
        codes = _dense_codes(codes)
        if not packed and n_bits is not None:
            width = np.shape(codes)[1] if np.ndim(codes) == 2 else None
            if width is not None and width != n_bits:
                raise ValueError(
                    f"n_bits={n_bits}, but the codes have {width} columns: unpacked codes "
                    "have one column per bit (n_bits is for packed codes, with packed=True)."
                )
        blocked, n_bits = as_blocked_codes(
            codes, packed=packed, n_bits=n_bits, check_input=check_input
        )
        lookup = None
        if ids is not None:
            ids, lookup = check_ids(ids, len(blocked))
        database = Database.of(blocked, n_bits, ids, lookup)
        with self._change_lock():
            self._db = database
            self.n_threads_ = n_threads(self.n_jobs)
            self.backend_ = "numba" if self.backend == "auto" else self.backend
        warm_up_for(database, self.backend)  # compiled kernels loaded meanwhile (a thread)
        return self

    def add(self, codes, ids=None, *, packed=False, check_input=True):
        """Append ``codes`` to the database; their positions follow the existing ones.

        Parameters
        ----------
        codes : array-like
            Codes of the index's length, as in :meth:`fit`.
        ids : array-like of shape (n_samples,), dtype int, default=None
            Their ids: required when the index has ids, refused otherwise; distinct, and
            not already in the index.
        packed, check_input : bool
            As in :meth:`fit`.

        Returns
        -------
        self : HammingIndex
        """
        n_bits = self._snapshot().n_bits
        codes = _dense_codes(codes)
        words, _ = as_words(codes, packed=packed, n_bits=n_bits, check_input=check_input)
        lookup = None
        if ids is not None:
            ids, lookup = check_ids(ids, len(words))
        with self._change_lock():
            database = self._db
            if database.n_bits != n_bits:  # a concurrent fit changed the code length
                raise ValueError(
                    f"codes have {n_bits} bits, but the index now holds "
                    f"{database.n_bits}-bit codes."
                )
            if (ids is None) != (database.ids is None):
                raise ValueError(
                    "The index has ids: add() needs ids for the new codes."
                    if ids is None
                    else "The index was fitted without ids: add() cannot take ids."
                )
            if ids is not None:
                held = database.lookup().contains(ids)
                if held.any():
                    raise ValueError(f"ids already in the index: {ids[held][:5].tolist()}.")
            self._db = database.appended(words, ids, lookup)
        return self

    def remove(self, ids):
        """Remove the codes with these ids (positions when the index has no ids).

        Parameters
        ----------
        ids : int or array-like of int
            Ids to remove; each must be in the index (repeats are ignored).

        Returns
        -------
        positions : ndarray of shape (n_removed,), dtype int64
            The positions the removed codes had, ascending. Arrays aligned with the
            positions follow with ``np.delete(array, positions, axis=0)``; every later
            position moves down by the number of removed positions before it.
        """
        ids = as_id_array(ids)
        self._snapshot()
        with self._change_lock():
            database = self._db
            positions = np.unique(database.positions_of(ids))
            if len(positions):
                keep = np.ones(len(database), dtype=bool)
                keep[positions] = False
                self._db = database.without(keep)
        return positions

    def positions_of(self, ids):
        """Current positions of ``ids`` (a ValueError names the ids not in the index)."""
        return self._snapshot().positions_of(as_id_array(ids))

    def _change_lock(self):
        """The lock that orders changes of the content (made on first use)."""
        lock = self.__dict__.get("_lock")
        if lock is None:
            with _LOCK_GUARD:
                lock = self.__dict__.setdefault("_lock", threading.Lock())
        return lock

    def _snapshot(self):
        """The current database (a search reads it once and keeps to it)."""
        check_is_fitted(self)
        return self._db

    def __sklearn_is_fitted__(self):
        return getattr(self, "_db", None) is not None

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: pickling must not touch the index
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "packed_codes_" in state:  # pickled before the blocked layout
            state["_codes"] = BlockedCodes(state.pop("packed_codes_"))
        if "_codes" in state:  # pickled before databases and ids
            state["_db"] = Database(state.pop("_codes"), state.pop("n_bits_"))
            for old in ("n_indexed_", "_mih", "_device_codes"):
                state.pop(old, None)
        if "_db" in state and "n_threads_" not in state:  # pickled before they were recorded
            state["n_threads_"] = n_threads(state.get("n_jobs"))
            backend = state.get("backend", "auto")
            state["backend_"] = "numba" if backend == "auto" else backend
        super().__setstate__(state)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path):
        """Write the index to ``path`` in skhash's own file format (no pickle).

        One file, written atomically: a temporary file beside ``path`` is filled, flushed,
        fsynced, then renamed over ``path``, so a crash or kill at any moment leaves the
        old file or the new one. The file is an uncompressed zip archive of a JSON manifest
        and ``.npy`` arrays (the codes in their blocked layout, the ids), each aligned for
        memory-mapping; see :func:`skhash.load`. Multi-index tables are not stored (they
        are rebuilt at the first search that uses them).

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from skhash.index import HammingIndex
        >>> codes = np.array([[0, 1, 1], [1, 1, 0]])
        >>> path = os.path.join(tempfile.mkdtemp(), "codes.skhash")
        >>> HammingIndex().fit(codes, ids=[7, 9]).save(path)
        >>> index = HammingIndex.load(path, mmap=True)
        >>> index.kneighbors(np.array([[1, 1, 1]]), n_neighbors=1)
        (array([[1]], dtype=int32), array([[7]]))
        """
        from .._persistence import save

        self._snapshot()
        save(self, path)

    @classmethod
    def load(cls, path, mmap=False):
        """Read an index written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.
        mmap : bool, default=False
            Map the codes and ids from the file instead of reading them: instant and
            shared between processes; ``add`` and ``remove`` then work on copies in memory.

        Returns
        -------
        index : HammingIndex

        Raises
        ------
        ValueError
            (:class:`skhash.FileFormatError`) when the file is not a skhash index, is
            damaged or truncated, or comes from a newer format version.
        """
        from .._persistence import FileFormatError, load

        index = load(path, mmap=mmap)
        if not isinstance(index, cls):
            raise FileFormatError(
                f"{os.fspath(path)} holds a {type(index).__name__}, not a {cls.__name__}: "
                "load it with skhash.load."
            )
        return index

    def _persist_state(self, encoder, where):
        """The JSON state of the index for the skhash format; arrays go to ``encoder``."""
        database = self._snapshot()
        state = {
            "params": {
                k: encoder.encode(v, f"{where} parameter {k}")
                for k, v in self.get_params().items()
            },
            "n_bits": int(database.n_bits),
            "n_codes": len(database),
            "blocks": encoder.array(database.codes.blocks, f"{where}.blocks"),
            "ids": None,
        }
        if database.ids is not None:
            state["ids"] = encoder.array(np.asarray(database.ids), f"{where}.ids")
        return state

    @classmethod
    def _from_persisted(cls, decoder, state, where):
        """The index :meth:`_persist_state` described, checked."""
        from .._persistence import FileFormatError

        path = decoder.archive.path
        params = {k: decoder.decode(v, where) for k, v in state["params"].items()}
        n_bits, n_codes = state["n_bits"], state["n_codes"]
        if not (
            isinstance(n_bits, int) and n_bits >= 1 and isinstance(n_codes, int) and n_codes >= 0
        ):
            raise FileFormatError(
                f"{path}: invalid index sizes n_bits={n_bits!r}, n_codes={n_codes!r}."
            )
        blocks = decoder.decode(state["blocks"], where)
        expected = (-(-n_codes // BLOCK_SIZE), -(-n_bits // 64), BLOCK_SIZE)
        if blocks.shape != expected or blocks.dtype != np.dtype("<u8"):
            raise FileFormatError(
                f"{path}: the index codes are {blocks.dtype}{list(blocks.shape)}, but "
                f"{n_codes} codes of {n_bits} bits need uint64{list(expected)}: damaged file."
            )
        ids = lookup = None
        if state["ids"] is not None:
            ids = decoder.decode(state["ids"], where)
            if ids.shape != (n_codes,) or ids.dtype != np.dtype("<i8"):
                raise FileFormatError(
                    f"{path}: the index ids are {ids.dtype}{list(ids.shape)}, expected "
                    f"int64[{n_codes}]: damaged file."
                )
        if not decoder.archive.mmap:
            # What fit guarantees, checked where it costs one pass over data read anyway (a
            # memory-mapped load reads nothing, so it trusts the file's contents): unused
            # high bits of the last word are 0 (else exact matches come back at distance
            # >= 1), and ids are distinct (else remove() drops only one of them).
            last_words = blocks[:, -1, :].reshape(-1)[:n_codes]
            if n_bits % 64 and np.any(last_words >> np.uint64(n_bits % 64)):
                raise FileFormatError(
                    f"{path}: codes have bits set beyond n_bits={n_bits}: damaged file."
                )
            if ids is not None:
                try:
                    ids, lookup = check_ids(ids, n_codes)
                except ValueError as exc:
                    raise FileFormatError(f"{path}: {exc} Damaged file.") from None
        try:
            index = cls(**params)
            index._validate_params()
        except (TypeError, ValueError) as exc:
            raise FileFormatError(f"{path}: invalid index parameters ({exc}).") from None
        codes = BlockedCodes._of(RowBuffer(blocks, n_codes, BLOCK_SIZE), n_codes)
        index._db = Database.of(codes, n_bits, ids, lookup)
        return index

    @property
    def n_bits_(self):
        return self._snapshot().n_bits

    @property
    def n_indexed_(self):
        return len(self._snapshot())

    @property
    def ids_(self):
        return self._snapshot().ids

    @property
    def nbytes(self):
        """Memory held by the index in bytes: packed codes, ids, and the multi-index
        tables and id lookup when built."""
        return self._snapshot().nbytes

    @property
    def packed_codes_(self):
        return self._snapshot().codes.words()

    @property
    def codes_(self):
        """The database codes unpacked to ``(n_indexed, n_bits)`` uint8."""
        database = self._snapshot()
        return unpack_codes(database.codes.words(), database.n_bits)

    # -- searches ------------------------------------------------------------------------
    def _queries(self, database, codes, packed):
        """Packed query words: ``codes`` checked, or the database itself when None."""
        if codes is None:
            return database.codes.words()
        codes = _dense_codes(codes, "query codes")
        return as_words(codes, packed=packed, n_bits=database.n_bits, name="query codes")[0]

    def _ids_of(self, database, positions):
        return positions if database.ids is None else database.ids[positions]

    def _kneighbors_positions(self, codes, n_neighbors, packed, n_jobs="index"):
        """``(database, dist, positions)`` of a kNN search (see :meth:`kneighbors`);
        ``n_jobs`` other than ``"index"`` replaces the index's (a hasher's setting)."""
        database = self._snapshot()
        itself = codes is None
        k = check_n_neighbors(n_neighbors, len(database), itself=itself)
        queries = self._queries(database, codes, packed)
        dist, pos = self._search(database, "knn", queries, k + itself, n_jobs=n_jobs)
        if itself:
            dist, pos = _without_self(dist, pos)
        return database, dist, pos

    def kneighbors(self, codes=None, n_neighbors=10, return_distance=True, *, packed=False):
        """Find the ``n_neighbors`` nearest database codes of each query code.

        Parameters
        ----------
        codes : array-like of shape (n_queries, n_bits), default=None
            Query codes in {0, 1} (or packed, with ``packed=True``). None queries every
            database code, each excluded from its own neighbours (as in scikit-learn).
        n_neighbors : int, default=10
            Number of neighbours; at most the database size (minus one when
            ``codes=None``). None means 10, or fewer when the database is smaller.
        return_distance : bool, default=True
            Whether to return the distances as well.
        packed : bool, default=False
            Whether ``codes`` are packed, as in :meth:`fit`.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Ids (positions when the index has no ids); equal distances in position order.
        """
        database, dist, pos = self._kneighbors_positions(codes, n_neighbors, packed)
        ind = self._ids_of(database, pos)
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, codes=None, radius=2, return_distance=True, *, packed=False):
        """Find every database code within Hamming ``radius`` of each query code.

        Parameters
        ----------
        codes : array-like of shape (n_queries, n_bits), default=None
            Query codes, as in :meth:`kneighbors` (None: the database by itself).
        radius : float, default=2
            Largest Hamming distance returned (inclusive); rounded down, and any radius
            beyond the code length returns every code.
        return_distance : bool, default=True
            Whether to return the distances as well.
        packed : bool, default=False
            Whether ``codes`` are packed, as in :meth:`fit`.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            Arrays of int32 distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            Arrays of int64 ids (or positions), nearest first, ties by position.
        """
        database, dist, pos = self._radius_positions(codes, radius, packed)
        # without ids the positions are the answer: no call per query (many small queries)
        ind = to_object_array(pos if database.ids is None else [database.ids[p] for p in pos])
        return (to_object_array(dist), ind) if return_distance else ind

    def _radius_positions(self, codes, radius, packed, n_jobs="index"):
        """``(database, dist, positions)`` of a radius search, lists of per-query arrays (see
        :meth:`radius_neighbors`); ``n_jobs`` as in :meth:`_kneighbors_positions`."""
        database = self._snapshot()
        radius = check_radius(radius, database.n_bits)
        queries = self._queries(database, codes, packed)
        dist, pos = self._search(database, "radius", queries, radius, n_jobs=n_jobs)
        if codes is None:
            for q in range(len(pos)):
                keep = pos[q] != q
                dist[q], pos[q] = dist[q][keep], pos[q][keep]
        return database, dist, pos

    def kneighbors_graph(self, codes=None, n_neighbors=10, mode="connectivity", *, packed=False):
        """Sparse graph of the ``n_neighbors`` nearest database codes of each query.

        As :meth:`sklearn.neighbors.NearestNeighbors.kneighbors_graph`: row ``i`` holds
        query ``i``'s neighbours. Columns are database *positions* (never ids), so the
        matrix has ``n_indexed_`` columns however the ids run.

        Parameters
        ----------
        codes : array-like of shape (n_queries, n_bits), default=None
            Query codes; None: every database code, itself excluded.
        n_neighbors : int, default=10
            Neighbours per row, as in :meth:`kneighbors`.
        mode : {"connectivity", "distance"}, default="connectivity"
            Entries of 1, or the Hamming distances (float; a distance of 0 is stored).
        packed : bool, default=False
            Whether ``codes`` are packed, as in :meth:`fit`.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_indexed)

        Examples
        --------
        >>> import numpy as np
        >>> from skhash.index import HammingIndex
        >>> codes = np.array([[0, 0], [0, 1], [1, 1]])
        >>> HammingIndex().fit(codes).kneighbors_graph(n_neighbors=1).toarray()
        array([[0., 1., 0.],
               [1., 0., 0.],
               [0., 1., 0.]])
        """
        check_graph_mode(mode)
        database, dist, pos = self._kneighbors_positions(codes, n_neighbors, packed)
        return knn_graph(dist, pos, len(database), mode)

    def distances(self, codes=None, *, packed=False):
        """Hamming distances from each query code to every database code.

        Parameters
        ----------
        codes : array-like of shape (n_queries, n_bits), default=None
            Query codes; None: the database itself.
        packed : bool, default=False
            Whether ``codes`` are packed, as in :meth:`fit`.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_indexed), dtype int32
            Columns in position order.
        """
        database = self._snapshot()
        return self._search(database, "distances", self._queries(database, codes, packed))

    def _search(self, database, kind, queries, arg=None, n_jobs="index"):
        """Search ``kind`` over ``database`` with this index's backend and settings."""
        return search(
            database,
            kind,
            queries,
            arg,
            backend=self.backend,
            n_jobs=self.n_jobs if n_jobs == "index" else n_jobs,
            memory_budget=self.memory_budget,
        )


@validate_params(
    {"codes_a": ["array-like"], "codes_b": ["array-like"]}, prefer_skip_nested_validation=True
)
def hamming_distances(codes_a, codes_b):
    """Hamming distance between every code of ``codes_a`` and every code of ``codes_b``.

    Parameters
    ----------
    codes_a : array-like of shape (n_a, n_bits)
        Binary codes in {0, 1}.
    codes_b : array-like of shape (n_b, n_bits)
        Binary codes in {0, 1}, with the same number of bits.

    Returns
    -------
    distances : ndarray of shape (n_a, n_b), dtype int32
        Computed on every core.

    Examples
    --------
    >>> from skhash.index import hamming_distances
    >>> hamming_distances([[0, 1, 1]], [[0, 1, 1], [1, 0, 0]])
    array([[0, 3]], dtype=int32)
    """
    blocked_b, n_bits = as_blocked_codes(codes_b, name="codes_b")
    words_a, _ = as_words(codes_a, n_bits=n_bits, name="codes_a")
    return search(Database.of(blocked_b, n_bits), "distances", words_a, n_jobs=-1)
