"""HammingIndex: exact Hamming search over packed binary codes."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from . import _numpy_search
from ._packing import BlockedCodes, check_codes, pack_codes, unpack_codes

__all__ = ["HammingIndex", "hamming_distances"]

BACKENDS = {"auto", "numpy", "numba", "mih", "torch"}
# Cost of multi-index hashing in codes the numba scan compares in the same time (measured on
# uniform codes, 2 threads): about 30,000 per query, plus 300-600 per bucket probed or code
# checked at 1M codes of 64-128 bits, 550-950 at 10M (cache misses); the larger is used.
AUTO_MIH_FIXED_COST = 30_000
AUTO_MIH_COST_RATIO = 600
# "auto" lets a query's multi-index search cost at most this share of a scan, then scans
AUTO_MIH_MAX_SHARE = 0.5
AUTO_MIH_TRIAL = 16  # queries tried first; if most of them give up, all are scanned at once


def _exhaustive_module():
    """The numba kernels when numba imports, else the numpy scan."""
    try:
        from . import _numba_search
    except ImportError:  # pragma: no cover - numba is a dependency
        return _numpy_search
    return _numba_search


def _join(first, second):
    """Results of two query batches, in order (arrays for kNN, lists for radius search)."""
    if isinstance(first, np.ndarray):
        return np.concatenate((first, second))
    return [*first, *second]


def _to_object_array(parts):
    out = np.empty(len(parts), dtype=object)
    out[:] = parts
    return out


class HammingIndex(BaseEstimator):
    """Exact Hamming search over binary codes packed into 64-bit words.

    Codes are stored packed (``ceil(n_bits / 64)`` words of 8 bytes per item), in blocks of
    64 codes laid out word by word for the compiled scan, and nothing else is kept unless
    multi-index tables are asked for. Queries are answered exactly, nearest first, ties
    broken by database order, and the search works through the database in blocks so memory
    stays bounded whatever the sizes.

    Parameters
    ----------
    backend : {"auto", "numba", "mih", "numpy", "torch"}, default="auto"
        Search implementation; all return the same exact results.

        - ``"numba"``: compiled exhaustive scan (fused XOR + popcount, counting top-k).
        - ``"mih"``: multi-index hashing (Norouzi et al., 2012), sublinear for small radii
          and small k on large databases; its tables are built on first use and take
          about 2-3 times the memory of the codes (``nbytes`` counts them).
        - ``"numpy"``: portable XOR + ``np.bitwise_count`` scan.
        - ``"torch"``: scan on a CUDA device with torch (optional dependency); the codes
          are copied to the GPU at the first search and kept there (not pickled).
        - ``"auto"``: multi-index hashing where it can pay (large database, small radius
          or k), each query's search capped at half a scan's cost: a query past
          the cap, or a whole batch whose first queries mostly are, is answered by
          ``"numba"``, as is everything else. Use ``"numba"`` to keep the index at the
          size of the codes.
    n_jobs : int, default=None
        Threads for backends that use them; ``None`` means 1 and ``-1`` all cores.
    memory_budget : int, default=64 MiB
        Upper bound in bytes on the temporary memory of a search: one block of distances,
        or the candidate buffers of a batch of kNN queries.

    Attributes
    ----------
    packed_codes_ : ndarray of shape (n_indexed, n_words), dtype uint64
        The database codes, packed (a copy, made on access).
    n_bits_ : int
        Number of bits of each code.
    n_indexed_ : int
        Number of codes in the database.

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
    """

    _parameter_constraints = {
        "backend": [StrOptions(BACKENDS)],
        "n_jobs": [None, Integral],
        "memory_budget": [Interval(Integral, 1024, None, closed="left")],
    }

    def __init__(self, backend="auto", n_jobs=None, memory_budget=64 * 2**20):
        self.backend = backend
        self.n_jobs = n_jobs
        self.memory_budget = memory_budget

    def fit(self, codes):
        """Index ``codes``, replacing any previous content.

        Parameters
        ----------
        codes : array-like of shape (n_samples, n_bits)
            Binary codes in {0, 1}. An empty database (0 rows) is allowed.

        Returns
        -------
        self : HammingIndex
        """
        self._validate_params()
        codes = check_codes(codes)
        self.n_bits_ = codes.shape[1]
        self._codes = BlockedCodes(pack_codes(codes))
        self.n_indexed_ = len(codes)
        self._mih = self._device_codes = None
        return self

    def add(self, codes):
        """Append ``codes`` to the database; their indices follow the existing ones."""
        check_is_fitted(self)
        codes = check_codes(codes, n_bits=self.n_bits_)
        self._codes = self._codes.append(pack_codes(codes))
        self.n_indexed_ = len(self._codes)
        self._mih = self._device_codes = None  # tables and device copy: rebuilt on next use
        return self

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: pickling must not touch the index
        state.pop("_mih", None)  # plain numpy, but large: rebuilt on first use
        state.pop("_device_codes", None)  # a GPU copy: pickles stay device-free
        return state

    def __setstate__(self, state):
        if "packed_codes_" in state:  # pickled before the blocked layout
            state = dict(state)
            state["_codes"] = BlockedCodes(state.pop("packed_codes_"))
        super().__setstate__(state)

    @property
    def nbytes(self):
        """Memory held by the index in bytes: packed codes plus multi-index tables if built."""
        check_is_fitted(self)
        mih = getattr(self, "_mih", None)
        return self._codes.nbytes + (mih.nbytes if mih is not None else 0)

    @property
    def packed_codes_(self):
        check_is_fitted(self)
        return self._codes.words()

    @property
    def codes_(self):
        """The database codes unpacked to ``(n_indexed, n_bits)`` uint8."""
        return unpack_codes(self.packed_codes_, self.n_bits_)

    def _pack_queries(self, codes):
        check_is_fitted(self)
        return pack_codes(check_codes(codes, n_bits=self.n_bits_, name="query codes"))

    def kneighbors(self, codes, n_neighbors=10, return_distance=True):
        """Find the ``n_neighbors`` nearest database codes of each query code.

        Parameters
        ----------
        codes : array-like of shape (n_queries, n_bits)
            Query codes in {0, 1}.
        n_neighbors : int, default=10
            Number of neighbours; at most the database size.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices; equal distances are ordered by index.
        """
        queries = self._pack_queries(codes)
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
            raise TypeError(f"n_neighbors must be an integer; got {n_neighbors!r}.")
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors must be >= 1; got {n_neighbors}.")
        if n_neighbors > self.n_indexed_:
            raise ValueError(
                f"Expected n_neighbors <= n_indexed, the database size; got "
                f"n_neighbors={n_neighbors}, n_indexed={self.n_indexed_}."
            )
        dist, ind = self._search("knn_search", queries, int(n_neighbors), n_neighbors=n_neighbors)
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, codes, radius=2, return_distance=True):
        """Find every database code within Hamming ``radius`` of each query code.

        Parameters
        ----------
        codes : array-like of shape (n_queries, n_bits)
            Query codes in {0, 1}.
        radius : int, default=2
            Largest Hamming distance returned (inclusive).
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            Arrays of int32 distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            Arrays of int64 indices, nearest first, ties by index.
        """
        queries = self._pack_queries(codes)
        if isinstance(radius, bool) or not isinstance(radius, Integral | float):
            raise TypeError(f"radius must be a number; got {radius!r}.")
        if not np.isfinite(radius) or radius < 0:
            raise ValueError(f"radius must be a finite number >= 0; got {radius}.")
        radius = int(min(np.floor(radius), self.n_bits_))
        dist, ind = self._search("radius_search", queries, radius, radius=radius)
        ind = _to_object_array(ind)
        return (_to_object_array(dist), ind) if return_distance else ind

    def distances(self, codes):
        """Hamming distances from each query code to every database code.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_indexed), dtype int32
        """
        queries = self._pack_queries(codes)
        name = self._backend_name(exhaustive=True)
        return self._backend(name).pairwise_distances(
            queries, self._database(name), self.memory_budget, n_jobs=self.n_jobs
        )

    def _backend_name(self, radius=None, n_neighbors=None, exhaustive=False):
        """Name of the backend that answers a search (resolves ``"auto"``)."""
        if self.backend == "auto":
            if not exhaustive and self._mih_may_pay(radius, n_neighbors):
                return "mih"
            return "numba"
        if self.backend == "mih" and exhaustive:
            return "numba"
        return self.backend

    def _backend(self, name):
        """The object answering a search by backend ``name``: a module, or the tables."""
        if name == "numpy":
            return _numpy_search
        if name == "numba":
            return _exhaustive_module()
        if name == "torch":
            from . import _torch_search

            return _torch_search
        if getattr(self, "_mih", None) is None:
            from ._mih import MultiIndexHashing

            self._mih = MultiIndexHashing(self._codes, self.n_bits_)
        return self._mih

    def _database(self, backend_name):
        """The database as a backend scans it: the blocked codes, or their copy on the GPU."""
        if backend_name != "torch":
            return self._codes
        if getattr(self, "_device_codes", None) is None:
            from ._torch_search import DeviceCodes

            self._device_codes = DeviceCodes(self._codes)
        return self._device_codes

    def _search(self, method, queries, arg, **criteria):
        """Run ``method`` ("knn_search" or "radius_search") on the chosen backend."""
        name = self._backend_name(**criteria)
        search = getattr(self._backend(name), method)
        if self.backend != "auto" or name != "mih":
            return search(
                queries, self._database(name), arg, self.memory_budget, n_jobs=self.n_jobs
            )

        # auto: capped multi-index searches, on trial for the first queries; the queries
        # that give up are scanned, or the whole batch at once if most of the trial did
        # (a scan of many queries at once reads the database fewer times)
        def scan(rows):
            return getattr(_exhaustive_module(), method)(
                rows, self._codes, arg, self.memory_budget, n_jobs=self.n_jobs
            )

        def capped(rows):
            return search(
                rows,
                self._codes,
                arg,
                self.memory_budget,
                n_jobs=self.n_jobs,
                max_checks=self._auto_max_checks(),
            )

        dist, ind, gave_up = capped(queries[:AUTO_MIH_TRIAL])
        rest = queries[AUTO_MIH_TRIAL:]
        if len(rest):
            if 2 * gave_up.sum() > AUTO_MIH_TRIAL:
                return scan(queries)
            more_d, more_i, more_gave_up = capped(rest)
            dist, ind = _join(dist, more_d), _join(ind, more_i)
            gave_up = np.concatenate((gave_up, more_gave_up))
        rows = np.flatnonzero(gave_up)
        if len(rows):
            for q, d, i in zip(rows, *scan(queries[rows]), strict=True):
                dist[q], ind[q] = d, i
        return dist, ind

    def _auto_max_checks(self):
        """Buckets and codes a capped multi-index search may visit under ``"auto"``."""
        budget = AUTO_MIH_MAX_SHARE * self.n_indexed_ - AUTO_MIH_FIXED_COST
        return max(0, int(budget / AUTO_MIH_COST_RATIO))

    def _mih_may_pay(self, radius, n_neighbors):
        """Whether a capped multi-index search can beat a scan at all (``"auto"``)."""
        max_checks = self._auto_max_checks()
        if radius is None:  # at least the k codes returned are checked
            return n_neighbors < max_checks
        from ._mih import expected_cost, substring_widths

        # radius search: its cost on uniform random codes must fit the cap (real codes,
        # with uneven buckets, cost more for some queries: those are scanned)
        widths = substring_widths(self.n_bits_, self.n_indexed_)
        return expected_cost(widths, self.n_indexed_, radius) < max_checks


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

    Examples
    --------
    >>> from skhash.index import hamming_distances
    >>> hamming_distances([[0, 1, 1]], [[0, 1, 1], [1, 0, 0]])
    array([[0, 3]], dtype=int32)
    """
    codes_b = check_codes(codes_b, name="codes_b")
    codes_a = check_codes(codes_a, n_bits=codes_b.shape[1], name="codes_a")
    return _exhaustive_module().pairwise_distances(pack_codes(codes_a), pack_codes(codes_b))
