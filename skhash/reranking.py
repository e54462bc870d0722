r"""Re-ranking Hamming candidates: bit weights, asymmetric distances, stored embeddings.

Hashing search finds candidates fast by Hamming distance, whose few distinct values leave
many ties; the real values behind the codes (:meth:`~skhash.BaseHasher.embed`) order them
better at little cost. Three re-ranking distances between a query and a database item, with
per-bit weights ``w`` (all 1 unless given or learnt):

- ``"weighted"``: weighted Hamming distance,
  :math:`d(q, i) = \sum_j w_j \, [b_{qj} \ne b_{ij}]`;
- ``"asymmetric"``: the query keeps its real embedding :math:`e_q`, the database only its
  codes: :math:`d(q, i) = \sum_j w_j |e_{qj}| \, [b_{qj} \ne b_{ij}]`, the confidence the
  query has in each bit it disagrees on (it orders items as
  :math:`-\sum_j w_j e_{qj} s_{ij}` with :math:`s` the :math:`\pm 1` codes, the asymmetric
  inner product of Gordo et al. 2014, with no extra memory);
- ``"embedding"``: the database keeps its float embeddings too, the weighted Euclidean
  distance :math:`d(q, i) = \sqrt{\sum_j w_j (e_{qj} - e_{ij})^2}`.

Every distance is >= 0 and orders candidates; the estimators return it as the neighbour
distance when re-ranking.
"""

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "RERANK_MODES",
    "check_bit_weights",
    "learn_bit_weights",
    "learn_level_weights",
    "rerank_distances",
]

RERANK_MODES = ("weighted", "asymmetric", "embedding")
_WEIGHT_FLOOR = 1e-3  # learnt weights stay positive: a bit never stops counting entirely


def check_bit_weights(weights, n_bits):
    """``weights`` as a float64 array of ``n_bits`` finite values >= 0, not all zero."""
    array = np.asarray(weights, dtype=np.float64)
    if array.shape != (n_bits,):
        raise ValueError(
            f"bit_weights must hold one weight per bit ({n_bits}); got shape {array.shape}."
        )
    if not np.isfinite(array).all() or (array < 0).any() or not array.any():
        raise ValueError("bit_weights must be finite, >= 0 and not all zero.")
    return array


def _similar_pairs(n, labels, embedding, rng, n_pairs):
    """Pairs ``(i, j)`` of similar items: sharing a label, or, without labels, each item with
    one of its 10 nearest neighbours in the embedding (on a sample)."""
    if labels is not None:
        first = rng.integers(0, n, size=n_pairs * 4)
        second = rng.integers(0, n, size=n_pairs * 4)
        if labels.ndim == 2:
            same = (labels[first] * labels[second]).sum(axis=1) > 0
        else:
            same = labels[first] == labels[second]
        same &= first != second
        return first[same][:n_pairs], second[same][:n_pairs]
    sample = rng.choice(n, size=min(n, 2000), replace=False)
    e = embedding[sample].astype(np.float64)
    squared = (e * e).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * e @ e.T
    np.fill_diagonal(distances, np.inf)
    k = min(10, len(sample) - 1)
    neighbours = np.argpartition(distances, k - 1, axis=1)[:, :k]
    return np.repeat(sample, k), sample[neighbours.ravel()]


def learn_bit_weights(codes, labels=None, embedding=None, *, n_pairs=20_000, random_state=0):
    """Per-bit weights that make the weighted Hamming distance a similarity log-odds.

    For bit ``j`` let ``p_j`` be the probability that a *similar* pair agrees on it and
    ``q_j`` that a random pair does. Treating bits as independent (naive Bayes), the
    log-likelihood ratio of "similar" given which bits disagree is a constant minus
    ``sum_{j disagrees} w_j`` with

    .. math:: w_j = \\log \\frac{p_j}{q_j} - \\log \\frac{1 - p_j}{1 - q_j},

    so sorting by the weighted distance sorts by how likely the pair is similar. Similar
    pairs share a label when ``labels`` are given, else are nearest neighbours in the
    ``embedding`` (the real values behind the codes). Weights are floored at a small positive
    value (a bit that does not help is kept, barely).

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_bits)
        Training codes in {0, 1}.
    labels : ndarray of shape (n_samples,) or (n_samples, n_classes), default=None
    embedding : ndarray of shape (n_samples, n_dims), default=None
        Needed when ``labels`` is None.
    n_pairs : int, default=20000
        Pairs sampled for each probability.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    weights : ndarray of shape (n_bits,)

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.reranking import learn_bit_weights
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> codes = np.stack([y, rng.integers(0, 2, 500)], axis=1)  # bit 0 is the class
    >>> w = learn_bit_weights(codes, y)
    >>> bool(w[0] > 10 * w[1])
    True
    """
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    codes = np.asarray(codes, dtype=bool)
    n = len(codes)
    if labels is None and embedding is None:
        raise ValueError("learn_bit_weights needs labels or an embedding to find similar pairs.")
    first, second = _similar_pairs(n, labels, embedding, rng, n_pairs)
    if len(first) == 0:
        raise ValueError("No similar pairs found to learn bit weights from.")
    eps = 0.5 / max(len(first), 1)
    p = np.clip((codes[first] == codes[second]).mean(axis=0), eps, 1 - eps)
    a, b = rng.integers(0, n, size=n_pairs), rng.integers(0, n, size=n_pairs)
    q = np.clip((codes[a] == codes[b]).mean(axis=0), eps, 1 - eps)
    weights = np.log(p / q) - np.log((1 - p) / (1 - q))
    return np.maximum(weights, _WEIGHT_FLOOR)


def rerank_distances(
    mode,
    query_codes,
    candidate_codes,
    *,
    weights=None,
    query_embedding=None,
    candidate_embedding=None,
):
    """Re-ranking distances from each query to its candidates.

    Candidates are either each query's own (3-D arrays, ``(n_queries, n_candidates, ...)``)
    or one set shared by every query (2-D arrays, ``(n_candidates, ...)``: a whole
    database, computed with matrix products).

    Parameters
    ----------
    mode : {"weighted", "asymmetric", "embedding"}
    query_codes : ndarray of shape (n_queries, n_bits)
        Codes in {0, 1}.
    candidate_codes : ndarray of shape (n_queries, n_candidates, n_bits) or \
            (n_candidates, n_bits)
        The candidates' codes.
    weights : ndarray of shape (n_bits,), default=None
        Per-bit weights (all 1 when None).
    query_embedding : ndarray of shape (n_queries, n_bits), default=None
        Needed by "asymmetric" and "embedding".
    candidate_embedding : ndarray, default=None
        The candidates' embeddings, shaped as ``candidate_codes``; needed by "embedding".

    Returns
    -------
    distances : ndarray of shape (n_queries, n_candidates), float64
    """
    if mode not in RERANK_MODES:
        raise ValueError(f"rerank must be None or one of {RERANK_MODES}; got {mode!r}.")
    n_bits = query_codes.shape[1]
    w = np.ones(n_bits) if weights is None else np.asarray(weights, dtype=np.float64)
    shared = candidate_codes.ndim == 2
    if mode == "embedding":
        q = query_embedding.astype(np.float64) * np.sqrt(w)
        c = candidate_embedding.astype(np.float64) * np.sqrt(w)
        if shared:
            squared = (q * q).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * q @ c.T
        else:
            squared = ((q[:, None, :] - c) ** 2).sum(axis=2)
        return np.sqrt(np.maximum(squared, 0))
    # Per-query weights of each bit: w, times the query's confidence |e_q| when asymmetric.
    wq = np.broadcast_to(w, query_codes.shape).astype(np.float64)
    if mode == "asymmetric":
        wq = wq * np.abs(query_embedding.astype(np.float64))
    if shared:  # sum_j wq_j [b_qj != c_j] = wq.b_q + wq.c - 2 (wq * b_q).c, for b, c in {0, 1}
        b = query_codes.astype(np.float64)
        c = candidate_codes.astype(np.float64)
        return (wq * b).sum(1)[:, None] + wq @ c.T - 2 * (wq * b) @ c.T
    disagree = query_codes[:, None, :] != candidate_codes
    return np.einsum("qcj,qj->qc", disagree, wq)


def _fusion_candidates(n_levels):
    """Block weightings tried by :func:`learn_level_weights`: each block alone, all equal,
    and each block first with the others at a half or a quarter of its weight."""
    candidates = [np.ones(n_levels)]
    for main in range(n_levels):
        for rest in (0.0, 0.25, 0.5):
            w = np.full(n_levels, rest)
            w[main] = 1.0
            candidates.append(w)
    return candidates


def learn_level_weights(
    codes, labels, blocks, *, n_queries=500, n_database=3000, random_state=0, tolerance=0.002
):
    """Weights of the code blocks of multi-level codes, chosen on labelled codes.

    Each candidate weighting (each block alone; all blocks equal; each block first, the
    others at 1/2 or 1/4 of its weight) ranks a sample of the items against another by the
    weighted sum of the blocks' Hamming distances; the weighting with the best tie-aware
    mAP wins. Equal weights (the plain Hamming distance, which needs no re-ranking) are kept
    unless another is better by more than ``tolerance``. Since every block alone is a
    candidate, the fused ranking is never worse on these items than the best single block.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_bits)
        Codes in {0, 1}.
    labels : ndarray of shape (n_samples,) or (n_samples, n_classes)
        Their labels (validated).
    blocks : dict
        ``{level: slice of bits}``.
    n_queries, n_database : int
        Sizes of the two disjoint samples (capped at half the items each).
    random_state : int, RandomState instance or None, default=0
    tolerance : float, default=0.002

    Returns
    -------
    weights : dict
        ``{level: weight}``, the largest weight 1.
    scores : dict
        ``{tuple of weights: mAP}`` of every candidate, for inspection.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.reranking import learn_level_weights
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 4, 400)
    >>> noise = rng.integers(0, 2, (400, 4))
    >>> informative = np.stack([y % 2, y // 2, y % 2, y // 2], axis=1)
    >>> codes = np.concatenate([noise, informative], axis=1)
    >>> learn_level_weights(codes, y, {2: slice(0, 4), 3: slice(4, 8)})[0]
    {2: 0.0, 3: 1.0}
    """
    # Imported here: the metrics import this module's siblings at package import.
    from .index import HammingIndex
    from .index._backend import dense_ranks
    from .metrics import mean_average_precision

    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    codes = np.asarray(codes, dtype=np.uint8)
    n = len(codes)
    order = rng.permutation(n)
    n_q = max(1, min(n_queries, n // 2))
    queries, database = order[:n_q], order[n_q : n_q + min(n_database, n - n_q)]
    levels = list(blocks)
    per_level = [
        HammingIndex()
        .fit(codes[database][:, blocks[level]], check_input=False)
        .distances(codes[queries][:, blocks[level]])
        .astype(np.float64)
        for level in levels
    ]
    scores = {}
    for w in _fusion_candidates(len(levels)):
        fused = sum(weight * d for weight, d in zip(w, per_level, strict=True))
        scores[tuple(w)] = mean_average_precision(
            labels[queries], labels[database], dense_ranks(fused), tie_aware=True
        )
    best = max(scores, key=scores.get)
    uniform = tuple(np.ones(len(levels)))
    if scores[uniform] >= scores[best] - tolerance:
        best = uniform
    return {level: float(w) for level, w in zip(levels, best, strict=True)}, scores
