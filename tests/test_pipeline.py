"""HashingPipeline: search, add and embed through the transforms to the final hasher."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import ITQ, LSH, CoarseToFine, HashingPipeline, make_hashing_pipeline


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order[300:]], y[order[300:]], X[order[:300]], y[order[:300]]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y, _, _ = digits
    return make_hashing_pipeline(StandardScaler(), PCA(30), ITQ(24, random_state=0)).fit(X, y)


def _hasher_and_transformed(pipe, X):
    """The final hasher, and ``X`` through the fitted transforms by hand."""
    return pipe[-1], pipe[:-1].transform(X)


def _assert_same(got, expected):
    if isinstance(got, tuple):
        for a, b in zip(got, expected, strict=True):
            _assert_same(a, b)
    elif got.dtype.kind == "O":
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(got, expected)


def test_make_hashing_pipeline_names_steps_like_make_pipeline():
    pipe = make_hashing_pipeline(StandardScaler(), ITQ())
    assert isinstance(pipe, HashingPipeline)
    assert [name for name, _ in pipe.steps] == [
        name for name, _ in make_pipeline(StandardScaler(), ITQ()).steps
    ]


@pytest.mark.parametrize("query", ["X", "None"])
def test_search_methods_equal_the_hasher_on_transformed_data(fitted, digits, query):
    Xq = digits[2] if query == "X" else None
    hasher, Xt = _hasher_and_transformed(fitted, digits[2])
    Xt = Xt if query == "X" else None
    _assert_same(fitted.kneighbors(Xq, n_neighbors=6), hasher.kneighbors(Xt, n_neighbors=6))
    _assert_same(fitted.kneighbors(Xq, 3, return_distance=False), hasher.kneighbors(Xt, 3, False))
    _assert_same(fitted.radius_neighbors(Xq, radius=3), hasher.radius_neighbors(Xt, radius=3))
    _assert_same(fitted.hamming_distances(Xq), hasher.hamming_distances(Xt))


def test_embed_and_transform_go_through_the_transforms(fitted, digits):
    hasher, Xt = _hasher_and_transformed(fitted, digits[2])
    np.testing.assert_array_equal(fitted.embed(digits[2]), hasher.embed(Xt))
    np.testing.assert_array_equal(fitted.transform(digits[2]), hasher.transform(Xt))
    np.testing.assert_array_equal(fitted.embed(digits[2]) > 0, fitted.transform(digits[2]))


def test_add_transforms_without_refitting(digits):
    X, y, Xq, yq = digits
    pipe = make_hashing_pipeline(StandardScaler(), ITQ(16, random_state=0)).fit(X, y)
    scale = pipe[0].scale_.copy()
    pipe.add(Xq, yq)
    np.testing.assert_array_equal(pipe[0].scale_, scale)  # the scaler is not refitted
    hasher = pipe[-1]
    assert hasher.index_.n_indexed_ == len(X) + len(Xq)
    np.testing.assert_array_equal(hasher.index_.codes_[len(X) :], pipe.transform(Xq))
    np.testing.assert_array_equal(hasher.database_labels_[len(X) :], yq)


def test_score_is_the_hashers_on_transformed_queries(fitted, digits):
    hasher, Xt = _hasher_and_transformed(fitted, digits[2])
    assert fitted.score(digits[2], digits[3]) == hasher.score(Xt, digits[3])


def test_coarse_to_fine_as_the_final_step(digits):
    X, y, Xq, _ = digits
    search = CoarseToFine(ITQ(8, random_state=0), ITQ(32, random_state=0), n_candidates=50)
    pipe = make_hashing_pipeline(StandardScaler(), search).fit(X, y)
    hasher, Xt = _hasher_and_transformed(pipe, Xq)
    _assert_same(pipe.kneighbors(Xq, 5), hasher.kneighbors(Xt, 5))
    assert (
        pipe.kneighbors_graph(Xq, 5, mode="distance")
        != hasher.kneighbors_graph(Xt, 5, mode="distance")
    ).nnz == 0
    assert (pipe.kneighbors_graph(None, 3) != hasher.kneighbors_graph(None, 3)).nnz == 0


def test_kneighbors_graph_of_a_hasher_when_it_has_one(fitted, digits):
    hasher, Xt = _hasher_and_transformed(fitted, digits[2])
    if not hasattr(hasher, "kneighbors_graph"):
        assert not hasattr(fitted, "kneighbors_graph")  # offered exactly when available
        return
    assert (fitted.kneighbors_graph(digits[2], 4) != hasher.kneighbors_graph(Xt, 4)).nnz == 0


def test_methods_exist_only_when_the_final_step_has_them():
    pipe = make_hashing_pipeline(StandardScaler(), LogisticRegression())
    for method in ("kneighbors", "radius_neighbors", "add", "embed", "hamming_distances"):
        assert not hasattr(pipe, method)
        assert hasattr(make_hashing_pipeline(StandardScaler(), LSH()), method)


def test_grid_search_clone_and_pickle(digits):
    X, y, Xq, _ = digits
    pipe = make_hashing_pipeline(StandardScaler(), ITQ(random_state=0))
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"itq__n_bits": [4, 32]}, cv=cv).fit(X, y)
    assert search.best_params_ == {"itq__n_bits": 32}
    best = search.best_estimator_
    assert isinstance(best, HashingPipeline)
    assert (
        isinstance(clone(pipe), HashingPipeline) and clone(pipe).get_params()["itq__n_bits"] == 32
    )
    restored = pickle.loads(pickle.dumps(best))
    _assert_same(restored.kneighbors(Xq, 5), best.kneighbors(Xq, 5))


def test_passthrough_steps_are_skipped(digits):
    X, y, Xq, _ = digits
    pipe = HashingPipeline([("scale", "passthrough"), ("lsh", LSH(16, random_state=0))])
    pipe.fit(X, y)
    _assert_same(pipe.kneighbors(Xq, 3), pipe[-1].kneighbors(Xq, 3))


def test_unfitted_pipeline_says_so(digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_hashing_pipeline(StandardScaler(), LSH()).kneighbors(digits[2])


# scikit-learn's own Pipeline fits the estimators of its `steps` parameter in place.
_IN_PLACE = "Pipeline fits its steps in place, as scikit-learn's Pipeline does"


@parametrize_with_checks(
    [HashingPipeline([("scale", StandardScaler()), ("lsh", LSH(8, random_state=0))])],
    expected_failed_checks=lambda estimator: {
        "check_estimators_overwrite_params": _IN_PLACE,
        "check_dont_overwrite_parameters": _IN_PLACE,
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_as_hashing_pipeline_searches_a_grid_searchs_plain_pipeline_without_refit(digits):
    from sklearn.pipeline import Pipeline

    from skhash.pipeline import as_hashing_pipeline

    X, y, Xq, yq = digits
    plain = make_pipeline(StandardScaler(), ITQ(random_state=0))
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    best = GridSearchCV(plain, {"itq__n_bits": [4, 32]}, cv=cv).fit(X, y).best_estimator_
    assert type(best) is Pipeline and not hasattr(best, "kneighbors")
    rotation = best[-1].rotation_.copy()
    search = as_hashing_pipeline(best)
    assert isinstance(search, HashingPipeline)
    assert search[-1] is best[-1] and search[0] is best[0]  # the fitted steps, not copies
    np.testing.assert_array_equal(search[-1].rotation_, rotation)  # not refitted
    hasher, Xt = _hasher_and_transformed(best, Xq)
    _assert_same(search.kneighbors(Xq, 5), hasher.kneighbors(Xt, 5))
    assert as_hashing_pipeline(search) is search


def test_as_hashing_pipeline_refuses_what_cannot_search():
    from skhash.pipeline import as_hashing_pipeline

    with pytest.raises(TypeError, match="'logisticregression' is LogisticRegression"):
        as_hashing_pipeline(make_pipeline(StandardScaler(), LogisticRegression()))
    with pytest.raises(TypeError, match="takes a sklearn.pipeline.Pipeline.*got ITQ"):
        as_hashing_pipeline(ITQ())


def test_make_hashing_pipeline_refuses_no_steps_and_a_pipeline():
    with pytest.raises(ValueError, match="at least one step"):
        make_hashing_pipeline()
    with pytest.raises(TypeError, match="as_hashing_pipeline"):
        make_hashing_pipeline(make_pipeline(StandardScaler(), ITQ()))


def test_a_last_step_that_is_not_a_hasher_is_named(digits):
    X, y, Xq, _ = digits
    pipe = make_hashing_pipeline(StandardScaler())
    with pytest.raises(TypeError, match="last step 'standardscaler' is StandardScaler"):
        pipe.fit(X)
    assert not hasattr(pipe, "kneighbors")  # hasattr stays truthful: AttributeError
    with pytest.raises(AttributeError, match="last step 'standardscaler' \\(StandardScaler\\)"):
        pipe.kneighbors(Xq)
    passthrough = HashingPipeline([("scale", StandardScaler()), ("end", "passthrough")])
    with pytest.raises(TypeError, match="last step 'end' is 'passthrough'"):
        passthrough.fit(X)
