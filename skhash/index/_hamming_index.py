"""HammingIndex: exact Hamming search over packed binary codes."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from . import _numpy_search
from ._packing import check_codes, pack_codes, unpack_codes

__all__ = ["HammingIndex", "hamming_distances"]

BACKENDS = {"auto", "numpy"}


def _to_object_array(parts):
    out = np.empty(len(parts), dtype=object)
    out[:] = parts
    return out


class HammingIndex(BaseEstimator):
    """Exact Hamming search over binary codes packed into 64-bit words.

    Codes are stored packed (``ceil(n_bits / 64)`` words of 8 bytes per item). Queries are
    answered exactly, nearest first, ties broken by database order, and the search works
    through the database in blocks so memory stays bounded whatever the sizes.

    Parameters
    ----------
    backend : {"auto", "numpy"}, default="auto"
        Search implementation. ``"numpy"`` is the portable XOR + ``np.bitwise_count`` scan;
        ``"auto"`` picks the fastest exact backend available.
    n_jobs : int, default=None
        Threads for backends that use them; ``None`` means 1 and ``-1`` all cores.
    memory_budget : int, default=64 MiB
        Upper bound in bytes on the temporary memory one search block uses.

    Attributes
    ----------
    packed_codes_ : ndarray of shape (n_indexed, n_words), dtype uint64
        The database codes, packed.
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
    array([2])
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
        self.packed_codes_ = pack_codes(codes)
        self.n_indexed_ = len(self.packed_codes_)
        return self

    def add(self, codes):
        """Append ``codes`` to the database; their indices follow the existing ones."""
        check_is_fitted(self)
        codes = check_codes(codes, n_bits=self.n_bits_)
        self.packed_codes_ = np.concatenate([self.packed_codes_, pack_codes(codes)])
        self.n_indexed_ = len(self.packed_codes_)
        return self

    @property
    def codes_(self):
        """The database codes unpacked to ``(n_indexed, n_bits)`` uint8."""
        check_is_fitted(self)
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
        dist, ind = self._search_backend().knn_search(
            queries, self.packed_codes_, int(n_neighbors), self.memory_budget
        )
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
        dist, ind = self._search_backend().radius_search(
            queries, self.packed_codes_, int(np.floor(radius)), self.memory_budget
        )
        ind = _to_object_array(ind)
        return (_to_object_array(dist), ind) if return_distance else ind

    def distances(self, codes):
        """Hamming distances from each query code to every database code.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_indexed), dtype int32
        """
        queries = self._pack_queries(codes)
        return _numpy_search.pairwise_distances(queries, self.packed_codes_, self.memory_budget)

    def _search_backend(self):
        return _numpy_search


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
    return _numpy_search.pairwise_distances(pack_codes(codes_a), pack_codes(codes_b))
