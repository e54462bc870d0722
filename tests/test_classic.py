"""Each classic hasher behaves as its paper describes."""

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import DataDimensionalityWarning

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    return X[order[300:]], y[order[300:]], X[order[:300]], y[order[:300]]


def test_lsh_hamming_distance_estimates_the_angle():
    # Charikar: P[bit differs] = angle / pi. Centred pairs at known angles, many bits.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    X -= X.mean(axis=0)
    lsh = LSH(n_bits=4096, random_state=0).fit(X)
    codes = lsh.transform(X[:20] + lsh.mean_)
    other = lsh.transform(X[20:40] + lsh.mean_)
    estimated = (codes != other).mean(axis=1)
    a, b = X[:20], X[20:40]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(estimated, np.arccos(cos) / np.pi, atol=0.04)


def test_lsh_allows_more_bits_than_features():
    X = np.random.default_rng(0).normal(size=(30, 3))
    assert LSH(n_bits=64).fit(X).transform(X).shape == (30, 64)


def test_pca_hashing_is_the_sign_of_principal_components(digits):
    X = digits[0]
    codes = PCAHashing(n_bits=8).fit(X).transform(X)
    pca = PCA(n_components=8, svd_solver="full").fit(X)
    assert (codes == (pca.transform(X) > 0)).mean() > 0.999  # same up to float rounding


def test_itq_rotation_is_orthogonal_and_loss_decreases(digits):
    itq = ITQ(n_bits=32, random_state=0).fit(digits[0])
    R = itq.rotation_
    np.testing.assert_allclose(R @ R.T, np.eye(32), atol=1e-10)
    loss = itq.quantization_loss_
    assert len(loss) == 51
    assert np.all(np.diff(loss) <= 1e-9 * loss[0])
    assert loss[-1] < 0.99 * loss[0]


def test_itq_beats_pca_hashing_at_many_bits(digits):
    # The paper's point: PCAH degrades as bits grow, the ITQ rotation does not.
    X, y, Xq, yq = digits
    with pytest.warns(DataDimensionalityWarning):  # 64 bits > rank 61 of digits
        itq = [ITQ(n_bits=b, random_state=0).fit(X, y).score(Xq, yq) for b in (16, 64)]
        pcah = [PCAHashing(n_bits=b).fit(X, y).score(Xq, yq) for b in (16, 64)]
    assert itq[1] > pcah[1] + 0.2
    assert pcah[1] < pcah[0]
    assert itq[1] >= itq[0] - 0.02


def test_itq_rotation_spreads_variance_over_the_bits(digits):
    # PCA puts most variance on the first bits; the rotation evens it out.
    X = digits[0]
    itq = ITQ(n_bits=32, random_state=0).fit(X)
    V = (X - itq.mean_) @ itq.components_.T
    pca_var, itq_var = V.var(axis=0), (V @ itq.rotation_).var(axis=0)
    assert itq_var.max() / itq_var.min() < 0.2 * pca_var.max() / pca_var.min()


def test_spectral_hashing_selects_lowest_frequency_modes(digits):
    sh = SpectralHashing(n_bits=48).fit(digits[0])
    widths = sh.max_ - sh.min_
    eigen = (sh.modes_[:, 1] / widths[sh.modes_[:, 0]]) ** 2
    assert np.all(np.diff(eigen) >= 0)  # selected in order of eigenvalue
    assert np.all(sh.modes_[:, 1] >= 1)  # the constant mode is never used
    # The widest direction gets a second, higher-frequency bit before narrow ones get any.
    assert (sh.modes_[:, 0] == 0).sum() > (sh.modes_[:, 0] == sh.modes_[:, 0].max()).sum()
    # Every unselected mode has an eigenvalue no smaller than the largest selected one.
    for d in range(len(widths)):
        k_next = sh.modes_[sh.modes_[:, 0] == d, 1].max(initial=0) + 1
        assert (k_next / widths[d]) ** 2 >= eigen.max() - 1e-12


def test_spectral_hashing_bit_flips_k_times_along_its_direction():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(0, 10, 500), rng.uniform(0, 1, 500)])
    sh = SpectralHashing(n_bits=3).fit(X)
    np.testing.assert_array_equal(sh.modes_, [[0, 1], [0, 2], [0, 3]])
    line = sh.mean_ + np.linspace(-6, 6, 2001)[:, None] * sh.components_[0]
    codes = sh.transform(line)
    inside = (line @ sh.components_[0] - sh.mean_ @ sh.components_[0] > sh.min_[0]) & (
        line @ sh.components_[0] - sh.mean_ @ sh.components_[0] < sh.max_[0]
    )
    flips = np.abs(np.diff(codes[inside].astype(int), axis=0)).sum(axis=0)
    np.testing.assert_array_equal(flips, [1, 2, 3])


def test_kmeans_hashing_index_distances_follow_center_distances(digits):
    kmh = KMeansHashing(n_bits=16, random_state=0).fit(digits[0])
    assert [len(c) for c in kmh.centers_] == [16] * 4
    bits = (np.arange(16)[:, None] >> np.arange(4)) & 1
    hamming = (bits[:, None] != bits[None]).sum(-1)
    iu = np.triu_indices(16, 1)
    centers = kmh.centers_[0]
    euclid = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    assert spearmanr(hamming[iu], euclid[iu]).statistic > 0.6
    plain = KMeansHashing(n_bits=16, affinity_weight=0.0, random_state=0).fit(digits[0])
    plain_centers = plain.centers_[0]
    plain_euclid = np.linalg.norm(plain_centers[:, None] - plain_centers[None], axis=-1)
    assert (
        spearmanr(hamming[iu], euclid[iu]).statistic
        > spearmanr(hamming[iu], plain_euclid[iu]).statistic
    )


def test_kmeans_hashing_code_is_nearest_center_index(digits):
    X = digits[0]
    kmh = KMeansHashing(n_bits=8, random_state=0).fit(X)
    codes = kmh.transform(X[:50])
    V = (X[:50] - kmh.mean_) @ kmh.components_.T
    for m, (dims, centers) in enumerate(zip(kmh.subspaces_, kmh.centers_, strict=True)):
        nearest = np.linalg.norm(V[:, dims][:, None] - centers[None], axis=-1).argmin(1)
        index = (codes[:, 4 * m : 4 * m + 4] * (2 ** np.arange(4))).sum(1)
        np.testing.assert_array_equal(index, nearest)


def test_kmeans_hashing_handles_a_remainder_subspace(digits):
    kmh = KMeansHashing(n_bits=10, bits_per_subspace=4, random_state=0).fit(digits[0])
    assert [len(c) for c in kmh.centers_] == [16, 16, 4]
    assert kmh.transform(digits[0][:3]).shape == (3, 10)


def test_kmeans_hashing_ties_agree_with_embedding():
    # Regression: codes came from argmin (lowest tied index), the embedding from per-bit
    # margins. A point equidistant from centers 1 (bits 10) and 2 (bits 01), nearer than
    # 0 and 3, gave code 10 and embedding signs 00.
    X = np.random.default_rng(0).normal(size=(40, 2))
    kmh = KMeansHashing(n_bits=2, bits_per_subspace=2, n_iter=2, random_state=0).fit(X)
    kmh.mean_, kmh.components_ = np.zeros(2), np.eye(2)
    kmh.centers_ = [np.array([[0.0, 2.0], [1.0, 0.0], [-1.0, 0.0], [0.0, -2.0]])]
    points = np.array([[0.0, 0.0], [0.5, 0.1], [-0.5, -0.1]])
    codes, embedding = kmh.transform(points), kmh.embed(points)
    np.testing.assert_array_equal(codes, embedding > 0)
    # the tie takes the bitwise AND of the tied indices; off the tie, the nearest index
    np.testing.assert_array_equal(codes, [[0, 0], [1, 0], [0, 1]])
    np.testing.assert_array_equal(embedding[0], [0.0, 0.0])


def test_kmeans_hashing_embedding_is_the_distance_to_the_flipping_boundary(digits):
    X = digits[0]
    kmh = KMeansHashing(n_bits=8, random_state=0).fit(X)
    V = (X[:30] - kmh.mean_) @ kmh.components_.T
    embedding = kmh.embed(X[:30])
    for m, (dims, centers) in enumerate(zip(kmh.subspaces_, kmh.centers_, strict=True)):
        dist = np.linalg.norm(V[:, dims][:, None] - centers[None], axis=-1)
        for j in range(4):
            has_bit = (np.arange(16) >> j) & 1 == 1
            d1, d0 = dist[:, has_bit].min(1), dist[:, ~has_bit].min(1)
            c1 = centers[np.flatnonzero(has_bit)[dist[:, has_bit].argmin(1)]]
            c0 = centers[np.flatnonzero(~has_bit)[dist[:, ~has_bit].argmin(1)]]
            # signed distance to the bisector of c0 and c1: (d0^2 - d1^2) / (2 |c1 - c0|)
            expected = (d0**2 - d1**2) / (2 * np.linalg.norm(c1 - c0, axis=1))
            np.testing.assert_allclose(embedding[:, 4 * m + j], expected, atol=1e-9)


def _hamming_then_asymmetric_precision(hasher, Xq, yq, yd, n_candidates=1000, k=100):
    """P@k of Hamming ranking, and of its top candidates re-ranked by the query's
    embedding: mismatched bits weighted by the query's |embedding|."""
    distances = hasher.hamming_distances(Xq)
    candidates = np.argsort(distances, axis=1, kind="stable")[:, :n_candidates]
    embedding = hasher.embed(Xq)
    database = hasher.index_.codes_.astype(bool)
    mismatch = database[candidates] != (embedding > 0)[:, None, :]
    weighted = (mismatch * np.abs(embedding)[:, None, :]).sum(-1)
    reranked = np.take_along_axis(candidates, np.argsort(weighted, axis=1, kind="stable"), 1)
    hamming = (yd[candidates[:, :k]] == yq[:, None]).mean()
    return hamming, (yd[reranked[:, :k]] == yq[:, None]).mean()


def test_kmeans_hashing_embedding_sizes_say_how_sure_each_bit_is(digits):
    # Weighting mismatched bits by the query's margins must rank better than Hamming: the
    # margins carry the confidence the codes lose (MNIST subset, 32 bits: 0.50 -> 0.62).
    X, y, Xq, yq = digits
    kmh = KMeansHashing(n_bits=16, random_state=0).fit(X, y)
    hamming, asymmetric = _hamming_then_asymmetric_precision(kmh, Xq, yq, y, 500, 50)
    assert asymmetric > hamming + 0.03


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3, 1e6])
@pytest.mark.parametrize(
    "hasher",
    [
        LSH(n_bits=32, random_state=0),
        PCAHashing(n_bits=16),
        ITQ(n_bits=32, random_state=0),
        SpectralHashing(n_bits=32),
        KMeansHashing(n_bits=16, random_state=0),
    ],
    ids=lambda h: type(h).__name__,
)
def test_codes_do_not_depend_on_the_scale_of_the_features(digits, hasher, scale):
    # Regression: KMeansHashing gave every input one code for X * 1e-3 (chance mAP), and
    # different codes for X * 1e3, because its k-means started from absolute constants.
    X, y, Xq, _ = digits
    reference = clone(hasher).fit(X).transform(Xq)
    scaled = clone(hasher).fit(X * scale).transform(Xq * scale)
    assert len(np.unique(scaled, axis=0)) > 100
    assert (scaled == reference).mean() > 0.999  # equal up to rounding at exact ties


@pytest.mark.parametrize("Hasher", [PCAHashing, ITQ])
def test_pca_hashers_warn_when_n_bits_exceeds_the_rank(digits, Hasher):
    X = digits[0]  # 64 pixels, 3 of them constant: rank 61
    with pytest.warns(DataDimensionalityWarning, match=r"numerical rank .*\(61\).*3 of its 64"):
        Hasher(n_bits=64, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataDimensionalityWarning)
        Hasher(n_bits=61, random_state=0).fit(X)
    # the warning is right: three of PCAH's 64 bits are the signs of rounding noise
    with pytest.warns(DataDimensionalityWarning):
        pcah = PCAHashing(n_bits=64).fit(X)
    scale = np.abs(pcah.embed(X)).max(axis=0)
    assert (scale < 1e-10 * scale.max()).sum() == 3


def test_pca_hashers_warn_on_data_of_low_rank():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 10))  # rank 3 in 10 features
    with pytest.warns(DataDimensionalityWarning, match=r"\(3\)"):
        PCAHashing(n_bits=4).fit(X)


@pytest.mark.parametrize(
    "hasher",
    [
        LSH(n_bits=128, random_state=0),
        SpectralHashing(n_bits=128),
        KMeansHashing(n_bits=64, random_state=0),
    ],
    ids=lambda h: type(h).__name__,
)
def test_other_classic_hashers_make_no_noise_bits_above_the_rank(digits, hasher):
    # The trap of PCAHashing checked in the others, on digits (rank 61): no warning, and
    # every bit varies on a scale far above rounding noise.
    X = digits[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataDimensionalityWarning)
        hasher.fit(X)
    embedding = hasher.embed(X)
    typical = np.abs(embedding).mean(axis=0)
    assert typical.min() > 1e-3 * typical.max()
    codes = hasher.transform(X)
    assert np.all((codes.mean(axis=0) > 0) & (codes.mean(axis=0) < 1))  # no constant bit
    if isinstance(hasher, SpectralHashing):  # the three constant directions never get a bit
        assert set(hasher.modes_[:, 0]) <= set(range(61))
