"""The shared hasher API: search semantics against brute force, database, errors, pickling."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from _brute_force import hasher_map
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing
from skhash.utils.validation import warn_if_nothing_relevant

ALL_CLASSIC = [LSH, PCAHashing, ITQ, SpectralHashing, KMeansHashing]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400], X[400:460], y[400:460]


def brute_force_distances(A, B):
    return (A[:, None, :] != B[None, :, :]).sum(axis=2)


@pytest.mark.parametrize("cls", ALL_CLASSIC)
def test_kneighbors_matches_brute_force(cls, digits):
    X, y, Xq, _ = digits
    hasher = cls(n_bits=16, random_state=0).fit(X, y)
    D = brute_force_distances(hasher.transform(Xq), hasher.transform(X))
    dist, ind = hasher.kneighbors(Xq, n_neighbors=7)
    expected = np.argsort(D, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(ind, expected)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, expected, axis=1))
    assert dist.dtype.kind == "i" and ind.dtype == np.int64


def test_kneighbors_without_x_excludes_self_with_duplicates():
    # Items 0..5 share one code: for item 3, the neighbours are the other duplicates in order.
    X = np.vstack([np.ones((6, 4)), -np.ones((4, 4))]) + np.arange(4) * 1e-3
    hasher = LSH(n_bits=8, random_state=0).fit(X)
    dist, ind = hasher.kneighbors(n_neighbors=3)
    assert ind.shape == (10, 3)
    np.testing.assert_array_equal(ind[3], [0, 1, 2])
    np.testing.assert_array_equal(ind[0], [1, 2, 3])
    assert not (ind == np.arange(10)[:, None]).any()
    np.testing.assert_array_equal(dist[:6], 0)


def test_kneighbors_without_x_equals_brute_force(digits):
    X, y, _, _ = digits
    hasher = ITQ(n_bits=8, random_state=0).fit(X, y)
    codes = hasher.transform(X)
    D = brute_force_distances(codes, codes).astype(float)
    np.fill_diagonal(D, np.inf)
    dist, ind = hasher.kneighbors(n_neighbors=5)
    expected = np.argsort(D, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ind, expected)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, expected, axis=1))


def test_radius_neighbors_matches_brute_force(digits):
    X, y, Xq, _ = digits
    hasher = ITQ(n_bits=16, random_state=0).fit(X, y)
    D = brute_force_distances(hasher.transform(Xq), hasher.transform(X))
    dist, ind = hasher.radius_neighbors(Xq, radius=3)
    assert dist.dtype == object and ind.shape == (len(Xq),)
    for i in range(len(Xq)):
        inside = np.flatnonzero(D[i] <= 3)
        order = inside[np.argsort(D[i, inside], kind="stable")]
        np.testing.assert_array_equal(ind[i], order)
        np.testing.assert_array_equal(dist[i], D[i, order])


def test_radius_neighbors_without_x_excludes_self(digits):
    X, y, _, _ = digits
    hasher = ITQ(n_bits=8, random_state=0).fit(X, y)
    ind = hasher.radius_neighbors(radius=0, return_distance=False)
    codes = hasher.transform(X)
    for i in (0, 17, 399):
        expected = [j for j in np.flatnonzero((codes == codes[i]).all(axis=1)) if j != i]
        np.testing.assert_array_equal(ind[i], expected)


def test_add_appends_codes_and_labels(digits):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=16, random_state=0).fit(X[:300], y[:300])
    rotation = hasher.rotation_.copy()
    hasher.add(X[300:], y[300:])
    np.testing.assert_array_equal(hasher.rotation_, rotation)  # no refit
    assert hasher.index_.n_indexed_ == 400
    np.testing.assert_array_equal(hasher.database_labels_, y)
    np.testing.assert_array_equal(hasher.index_.codes_, hasher.transform(X))
    # The database now answers like one fitted on everything with the same hash function.
    D = brute_force_distances(hasher.transform(Xq), hasher.transform(X))
    _, ind = hasher.kneighbors(Xq, n_neighbors=4)
    np.testing.assert_array_equal(ind, np.argsort(D, axis=1, kind="stable")[:, :4])


def test_add_label_consistency(digits):
    X, y, _, _ = digits
    labelled = ITQ(n_bits=8).fit(X, y)
    with pytest.raises(ValueError, match="needs y"):
        labelled.add(X[:5])
    unlabelled = ITQ(n_bits=8).fit(X)
    with pytest.raises(ValueError, match="without labels"):
        unlabelled.add(X[:5], y[:5])
    with pytest.raises(ValueError, match="labelled database"):
        unlabelled.score(X[:5], y[:5])


def test_score_is_map_and_better_than_chance(digits):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=32, random_state=0).fit(X, y)
    score = hasher.score(Xq, yq)
    assert 0.3 < score <= 1.0  # chance is about 0.1 for 10 balanced classes
    shuffled = hasher.score(Xq, np.roll(yq, 1))
    assert shuffled < score


def test_grid_search_over_pipeline_uses_default_score(digits):
    X, y, _, _ = digits
    pipe = Pipeline([("scale", StandardScaler()), ("hash", ITQ(random_state=0))])
    search = GridSearchCV(pipe, {"hash__n_bits": [4, 16]}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0) & (scores <= 1))
    assert search.best_params_ == {"hash__n_bits": 16}  # more bits rank better here
    assert search.best_estimator_.transform(X[:2]).shape == (2, 16)


def test_unshuffled_cv_on_sorted_labels_warns(digits):
    X, y, _, _ = digits
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]  # sorted by class: a plain 5-fold split isolates classes
    with pytest.warns(UndefinedMetricWarning, match="queries share no label with the database"):
        scores = cross_val_score(ITQ(n_bits=8, random_state=0), X, y, cv=5)
    assert scores.min() < 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        cv = StratifiedKFold(5, shuffle=True, random_state=0)
        assert cross_val_score(ITQ(n_bits=8, random_state=0), X, y, cv=cv).min() > 0.2


def test_nothing_relevant_warning_cases():
    with pytest.warns(UndefinedMetricWarning, match="1 of the 2 queries"):
        warn_if_nothing_relevant(np.array([[1, 0], [0, 1]]), np.array([[1, 0], [1, 0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_nothing_relevant(np.array([0, 1]), np.array([1, 0, 1]))
        warn_if_nothing_relevant(None, np.array([1]))  # missing labels: left to the metric


@pytest.mark.parametrize("cls", ALL_CLASSIC)
def test_pickle_and_joblib_round_trip(cls, digits, tmp_path):
    X, y, Xq, _ = digits
    hasher = cls(n_bits=8, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(hasher))
    np.testing.assert_array_equal(restored.transform(Xq), hasher.transform(Xq))
    np.testing.assert_array_equal(restored.kneighbors(Xq)[1], hasher.kneighbors(Xq)[1])
    joblib.dump(hasher, tmp_path / "h.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "h.joblib").transform(Xq), restored.transform(Xq)
    )


@pytest.mark.parametrize("cls", ALL_CLASSIC)
def test_random_state_makes_codes_reproducible(cls, digits):
    X, y, Xq, _ = digits
    a = cls(n_bits=8, random_state=3).fit(X).transform(Xq)
    b = clone(cls(n_bits=8, random_state=3)).fit(X).transform(Xq)
    np.testing.assert_array_equal(a, b)


def test_set_output_pandas(digits):
    X, y, _, _ = digits
    out = ITQ(n_bits=4).set_output(transform="pandas").fit(X).transform(X[:3])
    assert list(out.columns) == ["bit0", "bit1", "bit2", "bit3"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("cls", ALL_CLASSIC)
def test_non_finite_input_is_rejected(cls, bad, digits):
    X = digits[0].copy()
    X[3, 5] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        cls(n_bits=4).fit(X)
    fitted = cls(n_bits=4).fit(digits[0])
    with pytest.raises(ValueError, match="NaN|infinity"):
        fitted.transform(X)


@pytest.mark.parametrize("cls", ALL_CLASSIC)
def test_wrong_n_features_is_rejected(cls, digits):
    hasher = cls(n_bits=4).fit(digits[0])
    with pytest.raises(ValueError, match="features"):
        hasher.transform(digits[0][:, :10])
    with pytest.raises(ValueError, match="features"):
        hasher.kneighbors(digits[0][:, :10])


@pytest.mark.parametrize("cls", [PCAHashing, ITQ, KMeansHashing])
def test_too_many_bits_for_the_data(cls, digits):
    with pytest.raises(ValueError, match=r"n_bits=65 .*n_features=64"):
        cls(n_bits=65).fit(digits[0])
    with pytest.raises(ValueError, match=r"n_samples=20"):
        cls(n_bits=32).fit(digits[0][:20])


@pytest.mark.parametrize("cls", ALL_CLASSIC)
def test_one_sample_is_rejected(cls, digits):
    with pytest.raises(ValueError, match="1 sample|n_samples=1"):
        cls(n_bits=4).fit(digits[0][:1])


def test_empty_inputs_and_search_bounds(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="0 sample"):
        ITQ(n_bits=4).fit(X[:0])
    hasher = ITQ(n_bits=4).fit(X[:10])
    with pytest.raises(ValueError, match="n_neighbors"):
        hasher.kneighbors(X[:2], n_neighbors=11)
    with pytest.raises(ValueError, match="n_neighbors"):
        hasher.kneighbors(n_neighbors=10)  # the database itself: only 9 others
    with pytest.raises(ValueError, match="radius"):
        hasher.radius_neighbors(X[:2], radius=-1)


def test_labels_in_the_wrong_form(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="labels, but there are"):
        ITQ(n_bits=4).fit(X, y[:-1])
    with pytest.raises(ValueError, match="label-indicator"):
        ITQ(n_bits=4).fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="NaN"):
        ITQ(n_bits=4).fit(X, np.where(y == 1, np.nan, y))
    hasher = ITQ(n_bits=4).fit(X, y)
    with pytest.raises(ValueError, match="same label form"):
        hasher.score(X[:4], np.eye(10, dtype=int)[y[:4]])


def test_multilabel_database_scores(digits):
    X, y, Xq, yq = digits
    Y = np.eye(10, dtype=np.uint8)[y]
    Y[:, 0] |= y % 2 == 0  # a second, coarser label: "even"
    hasher = ITQ(n_bits=16, random_state=0).fit(X, Y)
    Yq = np.eye(10, dtype=np.uint8)[yq]
    Yq[:, 0] |= yq % 2 == 0
    assert hasher.score(Xq, Yq, tie_aware=False) == pytest.approx(hasher_map(hasher, Xq, Yq))
    assert hasher.database_labels_.shape == (400, 10)


def test_invalid_parameters_are_named():
    X = np.random.default_rng(0).normal(size=(20, 5))
    with pytest.raises(ValueError, match="n_bits"):
        LSH(n_bits=0).fit(X)
    with pytest.raises(ValueError, match="n_iter"):
        ITQ(n_bits=2, n_iter=-1).fit(X)


# -- nothing lost under faults, threads and bad input ---------------------------------------
def test_an_interrupted_refit_leaves_the_hasher_as_it_was(digits, monkeypatch):
    X, y, Xq, _ = digits
    for cls in ALL_CLASSIC:
        hasher = cls(n_bits=8, random_state=0).fit(X, y)
        codes, before = hasher.transform(Xq), dict(vars(hasher))
        fit = cls._fit

        def interrupted(self, X, y, fit=fit):
            fit(self, X, y)  # the new model is learnt, then Ctrl-C
            raise KeyboardInterrupt

        monkeypatch.setattr(cls, "_fit", interrupted)
        with pytest.raises(KeyboardInterrupt):
            hasher.fit(X[::-1] * 3 + 1, y[::-1])
        monkeypatch.undo()
        assert vars(hasher).keys() == before.keys()
        np.testing.assert_array_equal(hasher.transform(Xq), codes)
        dist, ind = hasher.kneighbors(X[:50], n_neighbors=1)
        assert (dist == 0).all()  # every database item still at distance 0 from itself


def test_an_interrupted_add_changes_nothing(digits, monkeypatch):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=16, random_state=0).fit(X, y)

    def interrupted(self, codes):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(hasher.index_), "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hasher.add(Xq, yq)
    monkeypatch.undo()
    assert hasher.index_.n_indexed_ == len(hasher.database_labels_) == len(X)


def test_concurrent_adds_lose_nothing(digits):
    from concurrent.futures import ThreadPoolExecutor

    X, _, _, _ = digits
    rows = np.arange(len(X))  # each item labelled by its row: labels must travel with codes
    hasher = LSH(n_bits=32, random_state=0).fit(X[:10], rows[:10])
    batches = [(X[i : i + 10], rows[i : i + 10]) for i in range(10, 400, 10)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda batch: hasher.add(*batch), batches))
    assert hasher.index_.n_indexed_ == len(hasher.database_labels_) == 400
    assert sorted(hasher.database_labels_) == list(rows)
    np.testing.assert_array_equal(
        hasher.index_.codes_, hasher.transform(X[hasher.database_labels_])
    )


def test_added_labels_keep_the_database_label_kind(digits):
    X, y, Xq, yq = digits
    hasher = ITQ(n_bits=16, random_state=0).fit(X, y)
    hasher.add(Xq[:5], yq[:5].astype(float))  # integral floats: read as the integers
    assert hasher.database_labels_.dtype == y.dtype
    with pytest.raises(ValueError, match="fractional"):
        hasher.add(Xq[:5], yq[:5] + 0.5)
    with pytest.raises(TypeError, match="different types"):
        hasher.add(Xq[:5], yq[:5].astype(str))
    assert hasher.index_.n_indexed_ == len(X) + 5


@pytest.mark.parametrize("n_neighbors", [0, -1])
def test_neighbour_counts_are_checked_with_the_value_given(digits, n_neighbors):
    X, y, _, _ = digits
    hasher = ITQ(n_bits=8, random_state=0).fit(X, y)
    for queries in (None, X[:3]):
        with pytest.raises(ValueError, match=f"got {n_neighbors}"):
            hasher.kneighbors(queries, n_neighbors=n_neighbors)


def test_dates_are_not_features(digits):
    X, y, _, _ = digits
    with pytest.raises(TypeError, match="must hold numbers"):
        ITQ(n_bits=4).fit(X[:, :8].astype("datetime64[D]"), y)
