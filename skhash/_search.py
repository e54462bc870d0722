"""Search over a hasher's database: k nearest neighbours, radius search, graphs, rankings.

One front end for every hasher, used by :class:`~skhash.BaseHasher`. Candidates come from
the :class:`~skhash.index.HammingIndex` by Hamming distance, as database positions of one
snapshot of its content (a search never sees half of a concurrent ``add``); with ``rerank``
set they are re-ordered by a finer distance (:mod:`skhash.reranking`). Positions become the
user's ids, when the database has ids, only in what is returned. The scorers read the same
ranking through :meth:`SearchMixin._ranking_distances`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .index import DEFAULT_MEMORY_BUDGET, unpack_codes
from .index._backend import dense_ranks, sort_hits, to_object_array
from .index._checks import check_n_neighbors
from .index._graph import check_graph_mode, knn_graph
from .reranking import rerank_distances

__all__ = ["SearchMixin"]


def _unpacked(database, positions):
    """Unpacked codes of the database items at ``positions`` (any shape)."""
    words = database.codes.words(positions.ravel())
    return unpack_codes(words, database.n_bits).reshape(*positions.shape, -1)


class SearchMixin:
    """``kneighbors``, ``radius_neighbors``, ``kneighbors_graph``, ``hamming_distances``.

    Expects ``index_`` (a fitted HammingIndex), ``rerank``, ``rerank_factor``,
    ``_search_bit_weights()`` and, for ``rerank="embedding"``, ``database_embedding_``; and
    the hasher's ``_validate_input`` and ``_codes_of``. The search parameters are
    read at search time, so ``set_params(rerank=...)`` on a fitted hasher takes effect at
    once (except what the database must keep: embeddings, learnt weights).
    """

    def _search_mode(self):
        """``(rerank, rerank_factor)`` as searches apply them: the parameters, unless the
        hasher ranks by a fusion it learnt at fit (deep multi-level codes)."""
        return self.rerank, self.rerank_factor

    # -- queries ----------------------------------------------------------------------
    def _queries(self, X):
        """Codes (None for the database itself) and, when re-ranking needs it, the
        embedding of the queries ``X``."""
        check_is_fitted(self, "index_")
        if X is None:
            if self.rerank == "asymmetric":
                raise ValueError(
                    'rerank="asymmetric" compares the real embedding of each query with the '
                    "database codes, but with X=None the queries are database items, of which "
                    'only the codes are kept: pass X, or use rerank="embedding".'
                )
            embedding = self._database_embedding() if self.rerank == "embedding" else None
            return None, embedding
        X = self._validate_input(X, reset=False)
        return self._codes_of(X, with_embedding=self.rerank in ("asymmetric", "embedding"))

    def _database_embedding(self):
        embedding = getattr(self, "database_embedding_", None)
        if embedding is None:
            raise ValueError(
                'rerank="embedding" compares with the database embeddings, which are kept only '
                'when the database is built with rerank="embedding": fit again after setting it.'
            )
        return embedding

    def _search_n_jobs(self):
        """Threads of this hasher's searches, read at search time (``set_params`` applies at
        once): ``n_jobs``, or every core when it is None (the library's default, as for
        training; ``n_jobs=1`` searches on one thread)."""
        return -1 if self.n_jobs is None else self.n_jobs

    def _returned(self, database, positions):
        """What searches return for database ``positions``: the ids, when there are ids."""
        return positions if database.ids is None else database.ids[positions]

    # -- k nearest neighbours ---------------------------------------------------------
    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the nearest database items of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query and is not returned as its
            own neighbour, as in scikit-learn.
            Deep hashers take images, image files or a dataset, as in their ``fit``.
        n_neighbors : int, default=None
            Number of neighbours; None means 10 (or the database size when smaller).
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances, ascending: Hamming distances (int32), or with ``rerank`` set the
            re-ranking distances (float64; see :mod:`skhash.reranking`). Only when
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices (the ids given to ``fit``/``add``, if any), nearest first;
            equal distances in database order.
        """
        database, dist, positions = self._kneighbors_positions(X, n_neighbors)
        ind = self._returned(database, positions)
        return (dist, ind) if return_distance else ind

    def _kneighbors_positions(self, X, n_neighbors):
        """``(database snapshot, distances, positions)`` of a kNN search."""
        check_is_fitted(self, "index_")
        n_neighbors = check_n_neighbors(n_neighbors, self.index_.n_indexed_, itself=X is None)
        codes, embedding = self._queries(X)
        rerank, factor = self._search_mode()
        if rerank is None:
            return self.index_._kneighbors_positions(
                codes, n_neighbors, False, n_jobs=self._search_n_jobs()
            )
        if factor is None:
            return self._rerank_database(codes, embedding, rerank, n_neighbors)
        n_available = self.index_.n_indexed_ - (X is None)
        n_candidates = n_available if factor is None else min(n_available, n_neighbors * factor)
        database, _, candidates = self.index_._kneighbors_positions(
            codes, n_candidates, False, n_jobs=self._search_n_jobs()
        )
        if codes is None:
            codes = unpack_codes(database.codes.words(), database.n_bits)
        dist, positions = self._rerank(database, codes, embedding, candidates)
        return database, dist[:, :n_neighbors], positions[:, :n_neighbors]

    def _rerank_database(self, codes, embedding, rerank, n_neighbors):
        """Every item re-ranked (``rerank_factor=None``): the re-ranking distances to the
        whole database by matrix products, chunk by chunk of queries, the ``n_neighbors``
        nearest kept (ties by position), rather than gathering each query's own copy of
        every database code. ``codes`` None: the queries are the database items, each
        excluding itself."""
        database = self.index_._snapshot()
        all_codes = unpack_codes(database.codes.words(), database.n_bits)
        itself = codes is None
        if itself:
            codes = all_codes
        stored = self._database_embedding() if rerank == "embedding" else None
        weights = self._search_bit_weights()
        n_db = len(database)
        step = max(1, DEFAULT_MEMORY_BUDGET // (16 * max(1, n_db)))
        dist = np.empty((len(codes), n_neighbors), dtype=np.float64)
        positions = np.empty((len(codes), n_neighbors), dtype=np.int64)
        for start in range(0, len(codes), step):
            rows = slice(start, start + step)
            finer = rerank_distances(
                rerank,
                codes[rows],
                all_codes,
                weights=weights,
                query_embedding=None if embedding is None else embedding[rows],
                candidate_embedding=stored,
            )
            if itself:  # an item is not its own neighbour: it sorts last
                own = np.arange(start, start + len(finer))
                finer[np.arange(len(finer)), own] = np.inf
            every = np.broadcast_to(np.arange(n_db), finer.shape)
            d, p = sort_hits(finer, every)
            dist[rows], positions[rows] = d[:, :n_neighbors], p[:, :n_neighbors]
        return database, dist, positions

    def _rerank(self, database, codes, embedding, candidates):
        """Each query's candidates re-ordered by the re-ranking distance, with it."""
        n_candidates = candidates.shape[1]
        step = max(1, DEFAULT_MEMORY_BUDGET // (8 * max(1, n_candidates) * codes.shape[1]))
        dist = np.empty(candidates.shape, dtype=np.float64)
        for start in range(0, len(codes), step):
            rows = slice(start, start + step)
            dist[rows] = self._rerank_rows(
                database, codes[rows], embedding, rows, candidates[rows]
            )
        return sort_hits(dist, candidates)

    def _rerank_lists(self, database, codes, embedding, candidate_lists):
        """:meth:`_rerank` for candidate lists of any lengths (one array per query)."""
        dist, positions = [], []
        for i, hits in enumerate(candidate_lists):
            if not len(hits):
                dist.append(np.empty(0, dtype=np.float64))
                positions.append(hits)
                continue
            row = slice(i, i + 1)
            d = self._rerank_rows(database, codes[row], embedding, row, hits[None])[0]
            d, hits = sort_hits(d, hits)
            dist.append(d)
            positions.append(hits)
        return dist, positions

    def _rerank_rows(self, database, codes, embedding, rows, candidates):
        """Re-ranking distances of query ``rows`` to their ``candidates`` (positions)."""
        rerank = self._search_mode()[0]
        stored = rerank == "embedding"
        return rerank_distances(
            rerank,
            codes,
            _unpacked(database, candidates),
            weights=self._search_bit_weights(),
            query_embedding=None if embedding is None else embedding[rows],
            candidate_embedding=self._database_embedding()[candidates] if stored else None,
        )

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of each query's nearest database items, as scikit-learn's.

        Row ``i`` holds query ``i``'s neighbours, found as :meth:`kneighbors` finds them
        (re-ranked when ``rerank`` is set). Columns are database positions (never ids).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None uses the database itself, each item excluded from its own row.
            Deep hashers take images, image files or a dataset, as in their ``fit``.
        n_neighbors : int, default=None
            Neighbours per row; None means 10 (or the database size when smaller).
        mode : {"connectivity", "distance"}, default="connectivity"
            Entries of 1, or the distances :meth:`kneighbors` returns.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_indexed)
        """
        check_graph_mode(mode)
        database, dist, positions = self._kneighbors_positions(X, n_neighbors)
        return knn_graph(dist, positions, len(database), mode)

    # -- radius search ----------------------------------------------------------------
    def radius_neighbors(self, X=None, radius=None, return_distance=True):
        """Find every database item within a Hamming radius of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query, itself excluded.
            Deep hashers take images, image files or a dataset, as in their ``fit``.
        radius : float, default=None
            Largest Hamming distance returned (inclusive); None means 2.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            Arrays of distances, ascending: Hamming distances, or with ``rerank`` set the
            items within the Hamming radius ordered by their re-ranking distance, which is
            returned. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            Arrays of database indices (or ids), nearest first, ties in database order.
        """
        codes, embedding = self._queries(X)
        radius = 2 if radius is None else radius
        database, dist, positions = self.index_._radius_positions(
            codes, radius, False, n_jobs=self._search_n_jobs()
        )
        if self._search_mode()[0] is not None:
            if codes is None:
                codes = unpack_codes(database.codes.words(), database.n_bits)
            dist, positions = self._rerank_lists(database, codes, embedding, positions)
        ind = to_object_array([self._returned(database, p) for p in positions])
        return (to_object_array(list(dist)), ind) if return_distance else ind

    # -- distances to the whole database ----------------------------------------------
    def hamming_distances(self, X=None):
        """Hamming distances from the codes of ``X`` to every database item.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None uses the database itself (the diagonal is then 0).
            Deep hashers take images, image files or a dataset, as in their ``fit``.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_indexed), dtype int32
        """
        check_is_fitted(self, "index_")
        return self._distances(None if X is None else self.transform(X))

    def _distances(self, codes):
        """The index's distance matrix for unpacked ``codes`` (None: the database), on this
        hasher's threads."""
        index = self.index_
        database = index._snapshot()
        queries = index._queries(database, codes, False)
        return index._search(database, "distances", queries, n_jobs=self._search_n_jobs())

    def _ranking_distances(self, X, k=None, *, chunk_bytes=DEFAULT_MEMORY_BUDGET):
        """Distances whose order is the ranking ``kneighbors`` gives, for the scorers.

        Without re-ranking, Hamming distances. With it, the ``rerank_factor * k`` nearest
        items by Hamming distance come first, ordered (and tied) by their re-ranking
        distance, then the others by Hamming distance; with ``k`` None (a whole-database
        metric) or ``rerank_factor`` None, every item is re-ranked.

        Returns
        -------
        n_queries : int
        chunks : iterator of (slice, ndarray of shape (n_rows, n_indexed))
            Consecutive query rows and their distances, about ``chunk_bytes`` each: Hamming
            distances, or with re-ranking the dense ranks of the ranking distances (integers
            with their order and ties, as the metrics expect).
        """
        codes, embedding = self._queries(X)
        index = self.index_
        database = index._snapshot()
        if codes is None:
            codes = unpack_codes(database.codes.words(), database.n_bits)
        n_db = len(database)
        step = max(1, chunk_bytes // (8 * max(n_db, 1)))
        rerank, factor = self._search_mode()
        n_candidates = n_db if k is None or factor is None else min(n_db, k * factor)
        all_codes = (
            None if rerank is None else unpack_codes(database.codes.words(), database.n_bits)
        )

        def chunks():
            for start in range(0, len(codes), step):
                rows = slice(start, min(start + step, len(codes)))
                hamming = self._distances(codes[rows])
                if rerank is None:
                    yield rows, hamming
                    continue
                stored = self._database_embedding() if rerank == "embedding" else None
                finer = rerank_distances(
                    rerank,
                    codes[rows],
                    all_codes,
                    weights=self._search_bit_weights(),
                    query_embedding=None if embedding is None else embedding[rows],
                    candidate_embedding=stored,
                )
                if n_candidates == n_db:
                    yield rows, dense_ranks(finer)
                    continue
                # Candidates (below 1) before the others (1 + Hamming), each in its own order.
                order = np.argsort(hamming, axis=1, kind="stable")[:, :n_candidates]
                ranking = 1.0 + hamming
                top = np.take_along_axis(finer, order, axis=1)
                scaled = top / (2 * max(float(top.max()), 1e-300))
                np.put_along_axis(ranking, order, scaled, axis=1)
                yield rows, dense_ranks(ranking)

        return len(codes), chunks()
