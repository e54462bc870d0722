"""Coarse-to-fine search: short codes pick candidates, long codes order them."""

import copy
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, TransformerMixin, _fit_context, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .index import DEFAULT_MEMORY_BUDGET, pack_codes, unpack_codes
from .index._backend import dense_ranks, to_object_array
from .index._checks import check_n_neighbors, check_radius
from .index._graph import check_graph_mode, knn_graph
from .utils.validation import check_labels, warn_if_nothing_relevant

__all__ = ["CoarseToFine"]

# Bytes of gathered candidate codes held at once when ordering a batch of queries (half the
# budget: their distances and sort keys take about as much again).
_GATHER_BUDGET = DEFAULT_MEMORY_BUDGET // 2
# From this many candidates in one kNN search, the fine stage runs compiled (numba, on the
# fine hasher's n_jobs threads); below, numpy ranks them and nothing is compiled.
COMPILED_MIN_CANDIDATES = 2**20


def _copy_for_add(hasher):
    """A copy of a fitted hasher whose ``add`` leaves the original untouched.

    ``add`` replaces the hasher's labels and the index's code store with new objects rather
    than changing them in place, so copying the hasher and its index is enough.
    """
    new = copy.copy(hasher)
    new.index_ = copy.copy(hasher.index_)
    return new


class _Prefix:
    """The ``n_bits``-bit prefixes of a fitted nested hasher, as the coarse stage reads them:
    codes, embedding and an index of the database's prefixes (built from the stored codes,
    no input encoded again)."""

    rerank = None

    def __init__(self, hasher, n_bits):
        self.hasher = hasher
        self.n_bits = n_bits
        self.index_ = hasher.prefix_index(n_bits)

    @property
    def n_features_in_(self):
        return self.hasher.n_features_in_

    @property
    def n_jobs(self):
        return self.hasher.n_jobs

    def transform(self, X):
        return self.hasher.transform(X, n_bits=self.n_bits)

    def embed(self, X, layer="hash"):
        embedding = self.hasher.embed(X, layer=layer)
        return embedding[:, : self.n_bits] if layer == "hash" else embedding

    def _embedding_width(self, layer):
        return self.n_bits if layer == "hash" else self.hasher._embedding_width(layer)

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"bit{i}" for i in range(self.n_bits)], dtype=object)


class CoarseToFine(MetaEstimatorMixin, TransformerMixin, BaseEstimator):
    """Two-stage search: coarse codes select candidates, fine codes order them.

    Both hashers are fitted on the same data, which both index. A query is answered in two
    steps: its coarse code selects candidates through the coarse hasher's index (the
    ``n_candidates`` nearest coarse codes, or every item within ``candidate_radius`` of it,
    a multi-index hash-table lookup), then its fine code orders the candidates by fine
    Hamming distance. With a short coarse code (e.g. 16 or 32 bits) and a long fine one
    (e.g. 64 to 256 bits, or a deep hasher's), this answers close to a scan of the fine
    codes while reading the fine codes of the candidates only.

    Any two hashers work: e.g. ``ITQ(n_bits=16)`` and ``ITQ(n_bits=64)``, or ITQ and a deep
    hasher. Their parameters are nested (``coarse__n_bits``), so ``GridSearchCV`` tunes
    them.

    Parameters
    ----------
    coarse : hasher
        Selects the candidates; cloned at fit. Any :class:`~skhash.BaseHasher`.
    fine : hasher
        Orders the candidates by Hamming distance; cloned at fit. Any
        :class:`~skhash.BaseHasher`; with ``rerank`` set, its ``rerank_factor * k`` nearest
        candidates are reordered by its re-ranking distance, as it would reorder its own.
    n_candidates : int, default=300
        Candidates per query: the ``n_candidates`` nearest coarse codes (ties in database
        order), at least as many as neighbours asked and at most the database. Ignored when
        ``candidate_radius`` is set.
    candidate_radius : int or None, default=None
        When set, the candidates of a query are all items within this coarse Hamming
        distance, looked up by multi-index hashing (unless the coarse index's backend was
        set to another than ``"auto"``). A ``kneighbors`` query with fewer candidates than
        neighbours asked takes its nearest coarse codes instead.

    Attributes
    ----------
    coarse_ : hasher
        The fitted coarse hasher, indexing the database.
    fine_ : hasher
        The fitted fine hasher, indexing the database.
    n_indexed_ : int
        Number of items in the database.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y``.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    The fine codes of the database are held twice: in the fine hasher's index, and packed
    row by row here, where candidates are gathered from.

    See Also
    --------
    skhash.index.HammingIndex : The exact search each stage uses.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQ, CoarseToFine
    >>> X, y = load_digits(return_X_y=True)
    >>> search = CoarseToFine(
    ...     ITQ(n_bits=16, random_state=0), ITQ(n_bits=48, random_state=0), n_candidates=100
    ... ).fit(X[200:], y[200:])
    >>> dist, ind = search.kneighbors(X[:3], n_neighbors=5)
    >>> dist.shape, search.transform(X[:3]).shape  # 16 coarse bits, then 48 fine bits
    ((3, 5), (3, 64))
    >>> bool(search.score(X[:200], y[:200]) > 0.5)
    True
    """

    _parameter_constraints: dict = {
        "coarse": [HasMethods(["fit", "transform", "kneighbors"])],
        "fine": [HasMethods(["fit", "transform", "kneighbors"])],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "candidate_radius": [None, Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, coarse, fine, *, n_candidates=300, candidate_radius=None):
        self.coarse = coarse
        self.fine = fine
        self.n_candidates = n_candidates
        self.candidate_radius = candidate_radius

    # -- fitting and the database -----------------------------------------------------
    @classmethod
    def from_nested(cls, hasher, n_bits, *, n_candidates=300, candidate_radius=None):
        """Coarse-to-fine search with one nested model: a prefix selects, the code orders.

        ``hasher`` is a fitted deep hasher trained with ``nested`` (e.g. ``(16, 32, 64)``);
        its ``n_bits``-bit prefixes select the candidates (through an index of the
        database's prefixes, built from the stored codes) and its whole codes order them.
        Each query is encoded once. Nothing is fitted again: the search uses ``hasher``'s
        database (``add`` adds to it).

        Parameters
        ----------
        hasher : fitted deep hasher with ``nested``
        n_bits : int
            The prefix length selecting the candidates: one of ``hasher.nested_`` shorter
            than the whole code.
        n_candidates, candidate_radius :
            As for the constructor.

        Returns
        -------
        search : CoarseToFine
            Fitted; ``coarse`` and ``fine`` are ``hasher`` itself.
        """
        check_is_fitted(hasher, "index_")
        lengths = getattr(hasher, "nested_", None)
        if not lengths or n_bits not in lengths[:-1]:
            raise ValueError(
                f"from_nested needs a hasher fitted with nested=... and n_bits one of its "
                f"prefix lengths shorter than the code; got n_bits={n_bits!r} and nested "
                f"lengths {lengths}."
            )
        search = cls(hasher, hasher, n_candidates=n_candidates, candidate_radius=candidate_radius)
        search._validate_params()
        search._nested_bits = int(n_bits)
        search.coarse_, search.fine_ = _Prefix(hasher, int(n_bits)), hasher
        search._fine_words = hasher.index_.packed_codes_
        return search

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit both hashers on ``X`` and index it as the database.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, also the database.
        y : array-like, default=None
            Labels, stored for :meth:`score`; supervised hashers learn from them.

        Returns
        -------
        self : CoarseToFine
        """
        coarse = clone(self.coarse).fit(X, y)
        fine = clone(self.fine).fit(X, y)
        self._nested_bits = None
        self.coarse_, self.fine_ = coarse, fine
        self._fine_words = fine.index_.packed_codes_
        return self

    def add(self, X, y=None):
        """Append ``X`` (and its labels) to the database of both hashers, without refitting.

        Both databases change together or, when either ``add`` fails, neither does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items to add.
        y : array-like, default=None
            Their labels; required when the database is labelled.

        Returns
        -------
        self : CoarseToFine
        """
        check_is_fitted(self)
        if self._nested:  # one model: add once, then index the new database's prefixes
            fine = _copy_for_add(self.fine_)
            fine.add(X, y)
            self.coarse_, self.fine_ = _Prefix(fine, self._nested_bits), fine
            self._fine_words = fine.index_.packed_codes_
            return self
        coarse, fine = _copy_for_add(self.coarse_), _copy_for_add(self.fine_)
        coarse.add(X, y)
        fine.add(X, y)
        words = fine.index_.packed_codes_
        self.coarse_, self.fine_, self._fine_words = coarse, fine, words
        return self

    @property
    def _nested(self):
        return getattr(self, "_nested_bits", None) is not None

    @property
    def n_indexed_(self):
        return self.fine_.index_.n_indexed_

    @property
    def database_labels_(self):
        return self.fine_.database_labels_

    @property
    def n_features_in_(self):
        return self.coarse_.n_features_in_

    # -- codes ------------------------------------------------------------------------
    def transform(self, X):
        """Coarse codes followed by fine codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_coarse_bits + n_fine_bits), dtype uint8
        """
        check_is_fitted(self)
        return np.hstack([self.coarse_.transform(X), self.fine_.transform(X)])

    def embed(self, X, layer="hash"):
        """Coarse embedding followed by fine embedding: the values whose signs are the codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to embed.
        layer : str, default="hash"
            The layer of both hashers, as in their ``embed``.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_coarse_dims + n_fine_dims)
        """
        check_is_fitted(self)
        return np.hstack([self.coarse_.embed(X, layer=layer), self.fine_.embed(X, layer=layer)])

    @property
    def _embedding_layers(self):
        """Layers both hashers embed."""
        fine_layers = getattr(self.fine, "_embedding_layers", ("hash",))
        return tuple(
            x for x in getattr(self.coarse, "_embedding_layers", ("hash",)) if x in fine_layers
        )

    def _embedding_width(self, layer):
        """Columns of :meth:`embed` for ``layer``: the coarse then the fine hasher's."""
        return self.coarse_._embedding_width(layer) + self.fine_._embedding_width(layer)

    def get_feature_names_out(self, input_features=None):
        """Names of the output bits: ``coarse_bit0``, ..., then ``fine_bit0``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = [
            f"{stage}_{name}"
            for stage, hasher in (("coarse", self.coarse_), ("fine", self.fine_))
            for name in hasher.get_feature_names_out()
        ]
        return np.asarray(names, dtype=object)

    # -- the two stages ---------------------------------------------------------------
    def _candidates(self, coarse_codes, n_min):
        """Candidates of each query from the coarse index, as ``(indptr, indices)``.

        Query ``i``'s candidates are ``indices[indptr[i]:indptr[i + 1]]``: at least ``n_min``
        (when the database has them), more when the database queries itself, whose own item
        is among its candidates and dropped later.
        """
        index = self.coarse_.index_
        n_db = index.n_indexed_
        if self.candidate_radius is None:
            n = min(max(self.n_candidates, n_min), n_db)
            indices = index.kneighbors(coarse_codes, n, return_distance=False)
            return np.arange(0, indices.size + 1, n), indices.ravel()
        index = self._lookup_index()
        rows = list(index.radius_neighbors(coarse_codes, self.candidate_radius, False))
        short = [i for i, row in enumerate(rows) if len(row) < n_min]
        if short:  # a ball too small: the nearest coarse codes instead
            nearest = index.kneighbors(coarse_codes[short], min(n_min, n_db), False)
            for i, row in zip(short, nearest, strict=True):
                rows[i] = row
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in rows], out=indptr[1:])
        indices = np.concatenate(rows) if indptr[-1] else np.empty(0, np.int64)
        return indptr, indices.astype(np.int64, copy=False)

    def _lookup_index(self):
        """The coarse index searched by multi-index hashing: a hash-table lookup is what a
        small radius over short codes calls for, whatever the database's size.

        A shallow copy sharing the coarse index's codes, with its own tables (built at the
        first lookup, rebuilt after ``add``); a backend the user chose is kept.
        """
        index = self.coarse_.index_
        if index.backend != "auto":
            return index
        cached = getattr(self, "_mih_lookup", None)
        if cached is None or cached[0] is not index:
            table = copy.copy(index)
            table.set_params(backend="mih")
            self._mih_lookup = cached = (index, table)
        return cached[1]

    def _order_candidates(self, X, indptr, indices, n_neighbors=None, radius=None):
        """Order each query's candidates by fine distance, nearest first, ties by index.

        The one place where the fine stage ranks. ``X`` is None when the database queries
        itself (query ``i`` is item ``i``, which is not its own neighbour). Returns
        ``(dist, ind)``: ``(n_queries, n_neighbors)`` arrays when ``n_neighbors`` is given,
        else lists of each query's candidates within fine ``radius``.
        """
        words = self._fine_words
        queries = words if X is None else pack_codes(self._fine_codes(X))
        if n_neighbors is not None and indptr[-1] >= COMPILED_MIN_CANDIDATES:
            from ._candidate_ranking import rank_candidates

            return rank_candidates(
                words, queries, indptr, indices, n_neighbors, X is None, self.fine_.n_jobs
            )
        n_bits = self.fine_.index_.n_bits_
        # query batches whose gathered candidate codes stay within the budget
        per_batch = max(1, _GATHER_BUDGET // (8 * words.shape[1]))
        cuts = np.searchsorted(indptr, np.arange(0, indptr[-1], per_batch), side="right") - 1
        bounds = np.unique(np.r_[0, cuts, len(indptr) - 1])
        out_dist, out_ind = [], []
        for first, stop in zip(bounds[:-1], bounds[1:], strict=True):
            lo, hi = indptr[first], indptr[stop]
            cand = indices[lo:hi]
            row = np.repeat(np.arange(first, stop), np.diff(indptr[first : stop + 1]))
            dist = np.bitwise_count(words[cand] ^ queries[row]).sum(axis=1, dtype=np.int64)
            keep = row != cand if X is None else np.ones(len(cand), dtype=bool)
            if n_neighbors is None:
                keep &= dist <= min(radius, n_bits)
            else:  # no more than the n_neighbors nearest of each row (and their ties)
                local = row - first
                counts = np.bincount(
                    local[keep] * (n_bits + 1) + dist[keep],
                    minlength=(stop - first) * (n_bits + 1),
                )
                reached = counts.reshape(-1, n_bits + 1).cumsum(axis=1) >= n_neighbors
                keep &= dist <= reached.argmax(axis=1)[local]
            row, dist, cand = row[keep], dist[keep], cand[keep]
            order = np.lexsort((cand, dist, row))
            row, dist, cand = row[order], dist[order], cand[order]
            starts = np.searchsorted(row, np.arange(first, stop))
            ends = np.r_[starts[1:], len(row)]
            if n_neighbors is not None:
                at = (starts[:, None] + np.arange(n_neighbors)).ravel()
                out_dist.append(dist[at].astype(np.int32).reshape(-1, n_neighbors))
                out_ind.append(cand[at].reshape(-1, n_neighbors))
                continue
            out_dist += [dist[a:b].astype(np.int32) for a, b in zip(starts, ends, strict=True)]
            out_ind += [cand[a:b] for a, b in zip(starts, ends, strict=True)]
        if n_neighbors is None:
            return out_dist, out_ind
        if not out_dist:
            return np.empty((0, n_neighbors), np.int32), np.empty((0, n_neighbors), np.int64)
        return np.concatenate(out_dist), np.concatenate(out_ind)

    def _rerank(self, X, candidates):
        """The fine hasher's re-ranking of each query's ``candidates`` (an array of rows of
        database positions, or a list of arrays): ``(distances, positions)`` reordered by
        the re-ranking distance, ties by position."""
        fine = self.fine_
        codes, embedding = fine._queries(X)
        database = fine.index_._db
        if codes is None:
            codes = unpack_codes(database.codes.words(), database.n_bits)
        if isinstance(candidates, np.ndarray):
            return fine._rerank(database, codes, embedding, candidates)
        return fine._rerank_lists(database, codes, embedding, candidates)

    def _fine_mode(self):
        """``(rerank, rerank_factor)`` of the fine hasher as its own searches apply them (a
        fused multi-level model re-ranks without ``rerank`` set)."""
        mode = getattr(self.fine_, "_search_mode", None)
        return mode() if mode is not None else (self.fine_.rerank, self.fine_.rerank_factor)

    def _coarse_codes(self, X):
        check_is_fitted(self)
        if X is None:
            return self.coarse_.index_.codes_
        if self._nested:  # encoded once: the prefix now, the whole code kept for the order
            codes = self.fine_.transform(X)
            self._query_codes = (X, codes)
            return np.ascontiguousarray(codes[:, : self._nested_bits])
        return self.coarse_.transform(X)

    def _fine_codes(self, X):
        """The fine codes of ``X``: those ``_coarse_codes`` just computed for a nested model."""
        cached = self.__dict__.pop("_query_codes", None)
        if cached is not None and cached[0] is X:
            return cached[1]
        return self.fine_.transform(X)

    # -- search -----------------------------------------------------------------------
    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Nearest database items of each query: coarse candidates ordered by fine distance.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query and is not returned as its
            own neighbour, as in scikit-learn.
        n_neighbors : int, default=None
            Number of neighbours; None means 10 (or the database size when smaller).
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Hamming distances between fine codes (int32), ascending, or the fine hasher's
            re-ranking distances (float64) when it has ``rerank`` set. Only when
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices, nearest first; equal distances in database order.
        """
        coarse_codes = self._coarse_codes(X)
        n_available = self.n_indexed_ - (X is None)
        n_neighbors = check_n_neighbors(n_neighbors, self.n_indexed_, itself=X is None)
        rerank, factor = self._fine_mode()
        if rerank is None:
            indptr, indices = self._candidates(coarse_codes, n_neighbors + (X is None))
            dist, ind = self._order_candidates(X, indptr, indices, n_neighbors=n_neighbors)
            return (dist, ind) if return_distance else ind
        # the fine hasher's re-ranking: its rerank_factor x k nearest candidates by fine
        # Hamming distance, reordered by its re-ranking distance
        n_ranked = n_available if factor is None else min(n_available, n_neighbors * factor)
        indptr, indices = self._candidates(coarse_codes, n_ranked + (X is None))
        _, candidates = self._order_candidates(X, indptr, indices, n_neighbors=n_ranked)
        dist, ind = self._rerank(X, candidates)
        dist, ind = dist[:, :n_neighbors], ind[:, :n_neighbors]
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, X=None, radius=None, return_distance=True):
        """Candidates of each query within a fine Hamming radius, nearest first.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query, itself excluded.
        radius : float, default=None
            Largest fine Hamming distance returned (inclusive); None means 2.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            Arrays of fine distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            Arrays of database indices, nearest first, ties in database order.
        """
        coarse_codes = self._coarse_codes(X)
        radius = check_radius(2 if radius is None else radius, self.fine_.index_.n_bits_)
        indptr, indices = self._candidates(coarse_codes, 0)
        dist, ind = self._order_candidates(X, indptr, indices, radius=radius)
        if self._fine_mode()[0] is not None:  # the ball's items by re-ranking distance
            dist, ind = self._rerank(X, ind)
        ind = to_object_array(list(ind))
        return (to_object_array(list(dist)), ind) if return_distance else ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of the nearest database items of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None queries the database itself, each item excluded from its row.
        n_neighbors : int, default=None
            Neighbours per row, as in :meth:`kneighbors`.
        mode : {"connectivity", "distance"}, default="connectivity"
            Store ones, or the fine Hamming distances.

        Returns
        -------
        graph : sparse matrix of shape (n_queries, n_indexed_)
            CSR matrix, as :meth:`sklearn.neighbors.NearestNeighbors.kneighbors_graph`.
        """
        check_graph_mode(mode)
        dist, ind = self.kneighbors(X, n_neighbors)
        return knn_graph(dist, ind, self.n_indexed_, mode)

    def score(self, X, y, *, k=None, tie_aware=True, normalize="retrieved", empty_queries="zero"):
        """Mean average precision of the two-stage ranking of the whole database.

        Each query ranks its candidates first, by fine distance, then every other item by
        coarse distance: the ranking the search implies. An item is relevant when it shares
        a label with the query. The options are those of the hashers' ``score``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries.
        y : array-like of shape (n_queries,) or (n_queries, n_classes)
            Query labels, in the form of the database labels.
        k : int, default=None
            Cut-off rank of mAP@k; None ranks the whole database.
        tie_aware : bool, default=True
            Expected AP over every order of items at equal distance; False breaks ties in
            database order.
        normalize : {"retrieved", "relevant", "min_k_relevant"}, default="retrieved"
            Normaliser of AP@k (see :func:`skhash.metrics.average_precision`).
        empty_queries : {"zero", "skip", "skip_unretrieved"}, default="zero"
            Which queries count (see :func:`skhash.metrics.mean_average_precision`).

        Returns
        -------
        score : float
            Mean average precision in [0, 1].
        """
        from .metrics import average_precision

        check_is_fitted(self)
        labels = self.database_labels_
        if labels is None:
            raise ValueError("score() needs a labelled database: fit (or add) with y.")
        coarse_codes = self._coarse_codes(X)
        y = check_labels(y, n_samples=len(coarse_codes), like=labels)
        warn_if_nothing_relevant(y, labels)
        indptr, indices = self._candidates(coarse_codes, 0)
        fine_dist, fine_ind = self._order_candidates(X, indptr, indices, radius=np.inf)
        after_candidates = self.fine_.index_.n_bits_ + 1
        if self._fine_mode()[0] is not None:
            # candidates in the order (and ties) of their re-ranking distance: dense ranks
            reranked, fine_ind = self._rerank(X, fine_ind)
            fine_dist = [dense_ranks(d[np.newaxis])[0] for d in reranked]
            after_candidates = max(after_candidates, int(np.diff(indptr).max(initial=0)) + 1)
        step = max(1, DEFAULT_MEMORY_BUDGET // (8 * max(self.n_indexed_, 1)))
        per_query = []
        for start in range(0, len(coarse_codes), step):
            rows = slice(start, start + step)
            # every other item after the candidates, by coarse distance
            ranking = self.coarse_.index_.distances(coarse_codes[rows]) + after_candidates
            for i, (dist, ind) in enumerate(zip(fine_dist[rows], fine_ind[rows], strict=True)):
                ranking[i, ind] = dist
            per_query.append(
                average_precision(
                    y[rows],
                    labels,
                    ranking,
                    k=k,
                    tie_aware=tie_aware,
                    normalize=normalize,
                    empty_queries=empty_queries,
                )
            )
        return float(np.nanmean(np.concatenate(per_query)))

    # -- persistence ------------------------------------------------------------------
    def save(self, path):
        """Save the fitted search (both hashers, their databases and labels) without pickle.

        One file in skhash's own format, read back by :func:`skhash.load`: the two hashers
        are stored as nested objects of the manifest, their arrays under their own names,
        and a search built by :meth:`from_nested` stores its one model once. The file is
        replaced atomically, as :meth:`skhash.BaseHasher.save` describes.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_digits
        >>> import skhash
        >>> from skhash import ITQ, CoarseToFine
        >>> X, y = load_digits(return_X_y=True)
        >>> search = CoarseToFine(
        ...     ITQ(n_bits=16, random_state=0), ITQ(n_bits=48, random_state=0), n_candidates=100
        ... ).fit(X[200:], y[200:])
        >>> path = os.path.join(tempfile.mkdtemp(), "search.skhash")
        >>> search.save(path)
        >>> again = skhash.load(path)
        >>> bool((again.kneighbors(X[:5])[1] == search.kneighbors(X[:5])[1]).all())
        True
        """
        from ._persistence import save

        check_is_fitted(self)
        save(self, path)

    def _persist_attributes(self, encoder, where):
        """What a file holds beyond the parameters: the fitted hashers (the nested model
        once); the packed fine codes, the prefix index and the lookup tables are rebuilt."""
        return {
            "coarse_": None if self._nested else self.coarse_,
            "fine_": self.fine_,
            "_nested_bits": self._nested_bits if self._nested else None,
        }

    def _restore_attributes(self, attributes, archive):
        from ._persistence import FileFormatError

        coarse, fine = attributes.get("coarse_"), attributes.get("fine_")
        nested_bits = attributes.get("_nested_bits")
        hashers = (fine,) if nested_bits is not None else (coarse, fine)
        if not all(hasattr(h, "index_") and hasattr(h, "transform") for h in hashers):
            raise FileFormatError(
                f"{archive.path}: the saved CoarseToFine lacks its fitted hashers: damaged file."
            )
        if nested_bits is not None:
            if nested_bits not in (getattr(fine, "nested_", None) or ())[:-1]:
                raise FileFormatError(
                    f"{archive.path}: the saved CoarseToFine's prefix length {nested_bits!r} is "
                    "not one of its model's nested lengths: damaged file."
                )
            coarse = _Prefix(fine, int(nested_bits))
        elif coarse.index_.n_indexed_ != fine.index_.n_indexed_:
            raise FileFormatError(
                f"{archive.path}: the saved coarse and fine hashers index "
                f"{coarse.index_.n_indexed_} and {fine.index_.n_indexed_} items: damaged file."
            )
        self._nested_bits = None if nested_bits is None else int(nested_bits)
        self.coarse_, self.fine_ = coarse, fine
        self._fine_words = fine.index_.packed_codes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        coarse, fine = get_tags(self.coarse), get_tags(self.fine)
        tags.input_tags.sparse = coarse.input_tags.sparse and fine.input_tags.sparse
        tags.target_tags.required = coarse.target_tags.required or fine.target_tags.required
        tags.transformer_tags.preserves_dtype = []
        return tags
