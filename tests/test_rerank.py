"""Re-ranking Hamming candidates: distances, kneighbors, radius search, scores, bit weights."""

import pickle

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError

from skhash import ITQ, LSH
from skhash.metrics import mean_average_precision
from skhash.reranking import learn_bit_weights, rerank_distances


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    return X[order[300:]], y[order[300:]], X[order[:300]], y[order[:300]]


def naive_distance(mode, b_q, e_q, b_c, e_c, w):
    """One query-candidate distance, from the definitions in skhash.reranking."""
    if mode == "weighted":
        return sum(w[j] for j in range(len(b_q)) if b_q[j] != b_c[j])
    if mode == "asymmetric":
        return sum(w[j] * abs(e_q[j]) for j in range(len(b_q)) if b_q[j] != b_c[j])
    return np.sqrt(sum(w[j] * (e_q[j] - e_c[j]) ** 2 for j in range(len(b_q))))


@pytest.mark.parametrize("mode", ["weighted", "asymmetric", "embedding"])
def test_rerank_distances_follow_their_definitions(mode):
    rng = np.random.default_rng(1)
    e_q, e_c = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    b_q, b_c = (e_q > 0).astype(np.uint8), (e_c > 0).astype(np.uint8)
    w = rng.uniform(0.1, 2, size=6)
    expected = np.array(
        [
            [naive_distance(mode, b_q[i], e_q[i], b_c[j], e_c[j], w) for j in range(5)]
            for i in range(3)
        ]
    )
    kwargs = dict(weights=w, query_embedding=e_q)
    shared = rerank_distances(mode, b_q, b_c, candidate_embedding=e_c, **kwargs)
    per_query = rerank_distances(
        mode,
        b_q,
        np.broadcast_to(b_c, (3, 5, 6)),
        candidate_embedding=np.broadcast_to(e_c, (3, 5, 6)),
        **kwargs,
    )
    np.testing.assert_allclose(shared, expected, atol=1e-9)
    np.testing.assert_allclose(per_query, expected, atol=1e-9)


def reference_kneighbors(hasher, X, n_neighbors, mode):
    """Hamming candidates (ties by index), then the definition's distance, ties by index."""
    codes, db = hasher.transform(X), hasher.index_.codes_
    e_q = hasher.embed(X)
    e_db = hasher.database_embedding_
    w = np.ones(db.shape[1]) if hasher.bit_weights is None else np.asarray(hasher.bit_weights)
    hamming = (codes[:, None, :] != db[None]).sum(2)
    m = n_neighbors * hasher.rerank_factor
    dist, ind = [], []
    for i in range(len(X)):
        candidates = np.argsort(hamming[i], kind="stable")[:m]
        d = np.array(
            [
                naive_distance(mode, codes[i], e_q[i], db[c], None if e_db is None else e_db[c], w)
                for c in candidates
            ]
        )
        order = np.lexsort((candidates, d))[:n_neighbors]
        dist.append(d[order])
        ind.append(candidates[order])
    return np.array(dist), np.array(ind)


@pytest.mark.parametrize("mode", ["weighted", "asymmetric", "embedding"])
def test_kneighbors_reranks_the_hamming_candidates(digits, mode):
    X, y, Xq, _ = digits
    weights = np.linspace(0.5, 2, 16) if mode == "weighted" else None
    hasher = ITQ(n_bits=16, random_state=0, rerank=mode, rerank_factor=4, bit_weights=weights)
    hasher.fit(X, y)
    dist, ind = hasher.kneighbors(Xq[:20], n_neighbors=5)
    expected_dist, expected_ind = reference_kneighbors(hasher, Xq[:20], 5, mode)
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_allclose(dist, expected_dist, atol=1e-9)
    assert dist.dtype == np.float64 and (np.diff(dist, axis=1) >= 0).all()


def test_reranking_raises_precision_on_the_mnist_subset():
    from skhash.datasets import load_mnist_5k

    X, y = load_mnist_5k(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    q, db = order[:1000], order[1000:]

    def precision_at_100(rerank):
        hasher = ITQ(n_bits=32, random_state=0, rerank=rerank).fit(X[db], y[db])
        ind = hasher.kneighbors(X[q], n_neighbors=100, return_distance=False)
        return (y[db][ind] == y[q][:, None]).mean()

    plain = precision_at_100(None)
    assert precision_at_100("asymmetric") >= plain + 0.02
    assert precision_at_100("embedding") >= plain + 0.02


def test_database_queries_and_embeddings_follow_the_database(digits):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=16, random_state=0, rerank="embedding").fit(X, y)
    assert hasher.database_embedding_.shape == (len(X), 16)
    ind = hasher.kneighbors(n_neighbors=3, return_distance=False)
    assert not (ind == np.arange(len(X))[:, None]).any()  # itself excluded
    hasher.add(Xq, yq)
    assert hasher.database_embedding_.shape == (len(X) + len(Xq), 16)
    np.testing.assert_allclose(hasher.database_embedding_[len(X) :], hasher.embed(Xq))
    loaded = pickle.loads(pickle.dumps(hasher))
    np.testing.assert_array_equal(loaded.kneighbors(Xq[:5])[1], hasher.kneighbors(Xq[:5])[1])
    asymmetric = ITQ(n_bits=16, random_state=0, rerank="asymmetric").fit(X, y)
    with pytest.raises(ValueError, match="only the codes are kept"):
        asymmetric.kneighbors(n_neighbors=3)


def test_radius_neighbors_are_ordered_by_the_reranking_distance(digits):
    X, y, Xq, _ = digits
    hasher = ITQ(n_bits=16, random_state=0, rerank="asymmetric").fit(X, y)
    plain = ITQ(n_bits=16, random_state=0).fit(X, y)
    dist, ind = hasher.radius_neighbors(Xq[:10], radius=3)
    plain_ind = plain.radius_neighbors(Xq[:10], radius=3, return_distance=False)
    for i in range(10):
        assert sorted(ind[i]) == sorted(plain_ind[i])  # the same items within the radius
        assert (np.diff(dist[i]) >= 0).all()


def test_scores_rank_as_kneighbors_does(digits):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=16, random_state=0, rerank="embedding").fit(X, y)
    # k=None: the whole database is re-ranked by the Euclidean distance between embeddings
    e_q, e_db = hasher.embed(Xq), hasher.database_embedding_
    full = np.sqrt(((e_q[:, None, :] - e_db[None]) ** 2).sum(2))
    ranks = rankdata(full, method="dense", axis=1).astype(int)  # the metrics take integers
    expected = mean_average_precision(yq, y, ranks, tie_aware=True)
    assert hasher.score(Xq, yq) == pytest.approx(expected)
    # mAP@k reads the top rerank_factor * k Hamming candidates, re-ranked, first
    top = hasher.score(Xq, yq, k=10, tie_aware=False)
    ind = hasher.kneighbors(Xq, n_neighbors=10, return_distance=False)
    relevant = y[ind] == yq[:, None]
    precision = np.cumsum(relevant, axis=1) / np.arange(1, 11)
    with np.errstate(invalid="ignore"):
        ap = (precision * relevant).sum(1) / relevant.sum(1)
    assert top == pytest.approx(np.nan_to_num(ap).mean())


def test_learnt_weights_favour_informative_bits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 2000)
    informative = np.stack([(y >> 0) & 1, (y >> 1) & 1], axis=1)
    noise = rng.integers(0, 2, size=(2000, 2))
    codes = np.hstack([informative, noise])
    w = learn_bit_weights(codes, y)
    assert w[:2].min() > 10 * w[2:].max()
    # without labels: neighbours in the embedding are the similar pairs
    embedding = np.hstack([informative * 4 - 2, rng.normal(0, 0.1, size=(2000, 2))])
    w_unsupervised = learn_bit_weights(codes, embedding=embedding)
    assert w_unsupervised[:2].min() > w_unsupervised[2:].max()


def test_learnt_weights_through_the_estimator(digits):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=16, random_state=0, rerank="weighted", bit_weights="learn").fit(X, y)
    assert hasher.bit_weights_.shape == (16,) and (hasher.bit_weights_ > 0).all()
    unsupervised = LSH(n_bits=16, random_state=0, rerank="weighted", bit_weights="learn").fit(X)
    assert unsupervised.bit_weights_.shape == (16,)


def test_bad_settings_are_clear_errors(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="one weight per bit"):
        ITQ(n_bits=16, rerank="weighted", bit_weights=np.ones(3)).fit(X, y)
    with pytest.raises(ValueError, match="finite"):
        ITQ(n_bits=16, rerank="weighted", bit_weights=np.full(16, np.nan)).fit(X, y)
    with pytest.raises(InvalidParameterError, match="rerank"):
        ITQ(rerank="cosine").fit(X, y)
    with pytest.raises(InvalidParameterError, match="rerank_factor"):
        ITQ(rerank="asymmetric", rerank_factor=0).fit(X, y)


def test_grid_search_tunes_reranking(digits):
    X, y, _, _ = digits
    grid = {"rerank": [None, "asymmetric"], "rerank_factor": [2, 10]}
    search = GridSearchCV(
        ITQ(n_bits=8, random_state=0), grid, cv=KFold(3, shuffle=True, random_state=0)
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    scores = dict(
        zip(
            map(str, search.cv_results_["params"]),
            search.cv_results_["mean_test_score"],
            strict=True,
        )
    )
    plain = [v for k, v in scores.items() if "None" in k]
    assert plain[0] == pytest.approx(plain[1])  # rerank_factor is unused without rerank


def test_search_parameters_act_on_a_fitted_hasher(digits):
    X, y, Xq, _ = digits
    fitted = ITQ(n_bits=16, random_state=0).fit(X, y)
    fitted.set_params(rerank="asymmetric", rerank_factor=4)
    reference = ITQ(n_bits=16, random_state=0, rerank="asymmetric", rerank_factor=4).fit(X, y)
    np.testing.assert_array_equal(fitted.kneighbors(Xq[:10])[1], reference.kneighbors(Xq[:10])[1])
    fitted.set_params(rerank="weighted", bit_weights=np.arange(1, 17))
    assert fitted.kneighbors(Xq[:2])[0].dtype == np.float64
    with pytest.raises(ValueError, match="fit again"):  # what the database must keep
        fitted.set_params(rerank="embedding", bit_weights=None).kneighbors(Xq[:2])
    with pytest.raises(ValueError, match="learnt from the training data at fit"):
        fitted.set_params(rerank="weighted", bit_weights="learn").kneighbors(Xq[:2])


@pytest.mark.parametrize("rerank", ["weighted", "embedding"])
def test_database_queried_against_itself_with_every_item_reranked(rerank):
    """X=None with rerank_factor=None goes through the chunked whole-database re-ranking
    (not an (n, n - 1) candidate matrix), each item excluding itself, with the answers of
    the candidate path."""
    X, y = load_digits(return_X_y=True)
    params = dict(n_bits=16, random_state=0, rerank=rerank, bit_weights="learn")
    every = ITQ(rerank_factor=None, **params).fit(X, y)
    candidates = ITQ(rerank_factor=len(X), **params).fit(X, y)
    dist, ind = every.kneighbors(None, 5)
    ref_dist, ref_ind = candidates.kneighbors(None, 5)
    np.testing.assert_array_equal(ind, ref_ind)
    # matrix products and per-candidate sums round differently (1e-15)
    np.testing.assert_allclose(dist, ref_dist, atol=1e-12)
    assert (ind != np.arange(len(X))[:, None]).all()
