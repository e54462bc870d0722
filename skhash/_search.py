"""Search over a hasher's database: k nearest neighbours, radius search, ranking distances.

One front end for every hasher, used by :class:`~skhash.BaseHasher`. Candidates come from
the :class:`~skhash.index.HammingIndex` by Hamming distance; with ``rerank`` set they are
re-ordered by a finer distance (:mod:`skhash.reranking`), and the scorers read the same
ranking through :meth:`SearchMixin._ranking_distances`.
"""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .index import unpack_codes
from .reranking import rerank_distances

__all__ = ["SearchMixin"]

# Temporary memory of one re-ranking step (the candidates' codes and distances of a batch of
# queries), as the index's default ``memory_budget``.
_RERANK_BUDGET = 64 * 2**20
_DEFAULT_NEIGHBORS = 10


def sort_hits(distances, indices):
    """Rows of hits sorted by (distance, index): the order of every search result."""
    order = np.lexsort((indices, distances), axis=-1)
    return (
        np.take_along_axis(distances, order, axis=-1),
        np.take_along_axis(indices, order, axis=-1),
    )


def dense_ranks(distances):
    """Per row, the dense rank of each distance (0 for the smallest; equal values share a
    rank): integers with the order and the ties of ``distances``, as the metrics read them."""
    order = np.argsort(distances, axis=1, kind="stable")
    ordered = np.take_along_axis(distances, order, axis=1)
    new_value = np.ones(ordered.shape, dtype=np.int32)
    new_value[:, 0] = 0
    new_value[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty(ordered.shape, dtype=np.int32)
    np.put_along_axis(ranks, order, np.cumsum(new_value, axis=1, dtype=np.int32), axis=1)
    return ranks


class SearchMixin:
    """``kneighbors``, ``radius_neighbors``, ``hamming_distances`` over ``index_``.

    Expects ``index_`` (a fitted HammingIndex), ``rerank``, ``rerank_factor``,
    ``_search_bit_weights()`` and, for ``rerank="embedding"``, ``database_embedding_``; and
    the hasher's ``_validate_input``, ``_embed`` and ``_encode``. The search parameters are
    read at search time, so ``set_params(rerank=...)`` on a fitted hasher takes effect at
    once (except what the database must keep: embeddings, learnt weights).
    """

    # -- queries ----------------------------------------------------------------------
    def _needs_embedding(self):
        return self.rerank in ("asymmetric", "embedding")

    def _queries(self, X):
        """Codes (and embedding when re-ranking needs it) of the queries ``X``; of the
        database itself when ``X`` is None."""
        check_is_fitted(self, "index_")
        if X is None:
            if self.rerank == "asymmetric":
                raise ValueError(
                    'rerank="asymmetric" compares the real embedding of each query with the '
                    "database codes, but with X=None the queries are database items, of which "
                    'only the codes are kept: pass X, or use rerank="embedding".'
                )
            embedding = self._database_embedding() if self.rerank == "embedding" else None
            return self.index_.codes_, embedding
        X = self._validate_input(X, reset=False)
        if self._needs_embedding():
            embedding = self._embed(X)
            return self._sign_bits(embedding), embedding
        return self._encode(X), None

    def _database_embedding(self):
        embedding = getattr(self, "database_embedding_", None)
        if embedding is None:
            raise ValueError(
                'rerank="embedding" compares with the database embeddings, which are kept only '
                'when the database is built with rerank="embedding": fit again after setting it.'
            )
        return embedding

    def _check_n_neighbors(self, n_neighbors, n_available, name="n_neighbors"):
        if n_neighbors is None:
            return max(1, min(_DEFAULT_NEIGHBORS, n_available))
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
            raise TypeError(f"{name} must be an integer; got {n_neighbors!r}.")
        if n_neighbors < 1:
            raise ValueError(f"{name} must be >= 1; got {n_neighbors}.")
        if n_neighbors > n_available:
            raise ValueError(
                f"Expected {name} <= {n_available}, the number of database items a query can "
                f"return{' (itself excluded)' if n_available < self.index_.n_indexed_ else ''};"
                f" got {name}={n_neighbors}."
            )
        return int(n_neighbors)

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
            Database indices, nearest first; equal distances in database order.
        """
        check_is_fitted(self, "index_")
        exclude_self = X is None
        n_available = self.index_.n_indexed_ - exclude_self
        n_neighbors = self._check_n_neighbors(n_neighbors, n_available)
        codes, embedding = self._queries(X)
        if self.rerank is None:
            dist, ind = self._hamming_kneighbors(codes, n_neighbors, exclude_self)
        else:
            factor = self.rerank_factor
            n_candidates = (
                n_available if factor is None else min(n_available, n_neighbors * factor)
            )
            _, candidates = self._hamming_kneighbors(codes, n_candidates, exclude_self)
            dist, ind = self._rerank(codes, embedding, candidates)
            dist, ind = dist[:, :n_neighbors], ind[:, :n_neighbors]
        return (dist, ind) if return_distance else ind

    def _hamming_kneighbors(self, codes, n_neighbors, exclude_self):
        if not exclude_self:
            return self.index_.kneighbors(codes, n_neighbors)
        n_db = self.index_.n_indexed_
        dist, ind = self.index_.kneighbors(codes, n_neighbors + 1)
        is_self = ind == np.arange(n_db)[:, None]
        # Drop each item's own index; where it is not among the candidates, drop the last.
        is_self[~is_self.any(axis=1), -1] = True
        keep = ~is_self
        return dist[keep].reshape(n_db, -1), ind[keep].reshape(n_db, -1)

    def _rerank(self, codes, embedding, candidates):
        """Each query's candidates re-ordered by the re-ranking distance, with it."""
        packed = self.index_.packed_codes_
        n_candidates = candidates.shape[1]
        step = max(1, _RERANK_BUDGET // (8 * max(1, n_candidates) * codes.shape[1]))
        dist = np.empty(candidates.shape, dtype=np.float64)
        for start in range(0, len(codes), step):
            rows = slice(start, start + step)
            dist[rows] = self._rerank_rows(packed, codes[rows], embedding, rows, candidates[rows])
        return sort_hits(dist, candidates)

    def _rerank_rows(self, packed, codes, embedding, rows, candidates):
        """Re-ranking distances of query ``rows`` to their ``candidates`` (database positions);
        ``packed`` holds the database's packed codes."""
        stored = self.rerank == "embedding"
        candidate_codes = unpack_codes(packed[candidates.ravel()], self.index_.n_bits_)
        return rerank_distances(
            self.rerank,
            codes,
            candidate_codes.reshape(*candidates.shape, -1),
            weights=self._search_bit_weights(),
            query_embedding=None if embedding is None else embedding[rows],
            candidate_embedding=self._database_embedding()[candidates] if stored else None,
        )

    # -- radius search ----------------------------------------------------------------
    def radius_neighbors(self, X=None, radius=None, return_distance=True):
        """Find every database item within a Hamming radius of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query, itself excluded.
            Deep hashers take images, image files or a dataset, as in their ``fit``.
        radius : int, default=None
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
            Arrays of database indices, nearest first, ties in database order.
        """
        codes, embedding = self._queries(X)
        radius = 2 if radius is None else radius
        dist, ind = self.index_.radius_neighbors(codes, radius)
        packed = None if self.rerank is None else self.index_.packed_codes_
        for i in range(len(ind)):
            if X is None:
                keep = ind[i] != i
                dist[i], ind[i] = dist[i][keep], ind[i][keep]
            if self.rerank is not None and len(ind[i]):
                query = slice(i, i + 1)
                d = self._rerank_rows(packed, codes[query], embedding, query, ind[i][None])
                order = np.lexsort((ind[i], d[0]))
                dist[i], ind[i] = d[0][order], ind[i][order]
        return (dist, ind) if return_distance else ind

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
        codes = self.index_.codes_ if X is None else self.transform(X)
        return self.index_.distances(codes)

    def _ranking_distances(self, X, k=None, *, chunk_bytes=64 * 2**20):
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
        n_db = index.n_indexed_
        step = max(1, chunk_bytes // (8 * max(n_db, 1)))
        factor = self.rerank_factor
        n_candidates = n_db if k is None or factor is None else min(n_db, k * factor)
        database = None if self.rerank is None else index.codes_

        def chunks():
            for start in range(0, len(codes), step):
                rows = slice(start, min(start + step, len(codes)))
                hamming = index.distances(codes[rows])
                if self.rerank is None:
                    yield rows, hamming
                    continue
                stored = self._database_embedding() if self.rerank == "embedding" else None
                finer = rerank_distances(
                    self.rerank,
                    codes[rows],
                    database,
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
