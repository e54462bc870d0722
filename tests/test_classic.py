"""Each classic hasher behaves as its paper describes."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

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
