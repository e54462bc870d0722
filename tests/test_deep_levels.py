"""Multi-level codes: one hash head per backbone stage, ranked by one level or fused."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402

from skhash.deep import DAHP, DSBH, SCAE  # noqa: E402

FAST = dict(max_epochs=2, batch_size=32, device="cpu", random_state=0, augmentation=None)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:200] / 16).astype(np.float32), y[:200]


@pytest.fixture(scope="module")
def two_levels(digits):
    X, y = digits
    return DSBH(n_bits=8, channels=(4, 6, 8), hidden=8, levels=(2, 3), **FAST).fit(X, y)


def hamming(codes_a, codes_b):
    return (codes_a[:, None, :] != codes_b[None, :, :]).sum(axis=2)


def test_each_level_makes_a_block_of_the_code(digits, two_levels):
    X, _ = digits
    hasher = two_levels
    assert hasher.code_blocks_ == {2: slice(0, 4), 3: slice(4, 8)}
    network = hasher.module_
    assert [head.hash.in_features for head in network.heads] == [6, 8]  # stage channels
    x = hasher._preprocessing(torch.from_numpy(X[:10].reshape(-1, 1, 8, 8)), "cpu")
    with torch.no_grad():
        maps = network.backbone.forward_levels(x)
        blocks = [
            network.heads[i](maps[level - 1].mean(dim=(2, 3)))["codes"] > 0
            for i, level in enumerate((2, 3))
        ]
    np.testing.assert_array_equal(hasher.transform(X[:10]), torch.cat(blocks, 1).numpy())
    assert {"pairwise", "classification", "balance"} <= set(hasher.history_[-1])


def test_rank_by_one_level_or_a_weighted_fusion(digits, two_levels):
    X, _ = digits
    codes = two_levels.transform(X)
    queries, database = codes[:20], codes
    for weights, expected in [
        ({3: 1.0}, hamming(queries[:, 4:], database[:, 4:])),
        (
            {2: 1.0, 3: 2.0},
            hamming(queries[:, :4], database[:, :4])
            + 2 * hamming(queries[:, 4:], database[:, 4:]),
        ),
    ]:
        hasher = pickle.loads(pickle.dumps(two_levels))
        # search parameters act at once on a fitted hasher: no refit
        hasher.set_params(rerank="weighted", rerank_factor=None, bit_weights=weights)
        dist, ind = hasher.kneighbors(X[:20], n_neighbors=6)
        order = np.lexsort((np.broadcast_to(np.arange(len(database)), expected.shape), expected))
        np.testing.assert_array_equal(ind, order[:, :6])
        np.testing.assert_allclose(dist, np.take_along_axis(expected, order[:, :6], 1))


def test_levels_through_fit_and_pickle(digits):
    X, y = digits
    hasher = DSBH(
        n_bits=8,
        channels=(4, 6, 8),
        hidden=8,
        levels=(2, 3),
        rerank="weighted",
        bit_weights={3: 1.0},
        **FAST,
    ).fit(X, y)
    np.testing.assert_array_equal(hasher.bit_weights_, [0, 0, 0, 0, 1, 1, 1, 1])
    loaded = pickle.loads(pickle.dumps(hasher))
    assert loaded.code_blocks_ == hasher.code_blocks_
    np.testing.assert_array_equal(loaded.kneighbors(X[:5])[1], hasher.kneighbors(X[:5])[1])


def test_dahp_levels_keep_attention_and_anchors_per_block(digits):
    X, y = digits
    hasher = DAHP(
        n_bits=8, width=4, reduction=2, levels=(3, 4), attention_stages=(3, 4), **FAST
    ).fit(X, y)
    assert [tuple(h.anchors.shape) for h in hasher.module_.heads] == [(10, 4), (10, 4)]
    assert set(hasher.module_.attention) == {"stage3", "stage4"}
    assert hasher.transform(X).shape == (200, 8)


def test_bad_levels_are_clear_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="cannot be split evenly"):
        DSBH(n_bits=9, levels=(2, 3), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="levels must hold distinct stages among 1 .. 3"):
        DSBH(n_bits=8, levels=(3, 4), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="levels=None"):
        DSBH(n_bits=8, backbone="mlp", levels=(1,), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="SCAE hashes one level"):
        SCAE(n_bits=8, levels=(1,), **FAST).fit(X)
    with pytest.raises(ValueError, match="need levels"):
        DSBH(n_bits=8, rerank="weighted", bit_weights={3: 1.0}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"names levels \[1\]"):
        DSBH(n_bits=8, levels=(2, 3), rerank="weighted", bit_weights={1: 1.0}, **FAST).fit(X, y)


@pytest.mark.parametrize(
    "name", ["DPSH", "DSH", "HashNet", "CSQ", "GreedyHash", "OrthoHash", "BiHalf"]
)
def test_baselines_take_levels_and_reranking(digits, name):
    import skhash.deep

    X, y = digits
    hasher = getattr(skhash.deep, name)(
        n_bits=8, levels=(2, 3), rerank="asymmetric", rerank_factor=3, **FAST
    ).fit(X, y)
    assert hasher.code_blocks_ == {2: slice(0, 4), 3: slice(4, 8)}
    assert [head.hash.out_features for head in hasher.module_.heads] == [4, 4]
    assert np.isfinite(hasher.history_[-1]["train_loss"])
    dist, ind = hasher.kneighbors(X[:5], n_neighbors=4)
    assert dist.dtype == np.float64 and (np.diff(dist, axis=1) >= 0).all()
    # Candidates: the 3 x 4 nearest by plain Hamming distance, re-ranked.
    hamming_ind = np.argsort(hasher.hamming_distances(X[:5]), axis=1, kind="stable")[:, :12]
    assert all(set(ind[i]) <= set(hamming_ind[i]) for i in range(5))


# -- the default ranking of multi-level codes: block weights learnt at fit ----------------------
def test_learnt_level_weights_never_rank_worse_than_one_block():
    from skhash.metrics import mean_average_precision
    from skhash.reranking import learn_level_weights

    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 600)
    # Block 2 half-informative, block 3 mostly noise: a mixture or block 2 alone must win.
    informative = (y[:, None] >> np.arange(3)) & 1
    block2 = np.concatenate([informative, rng.integers(0, 2, (600, 3))], axis=1)
    block3 = np.where(rng.random((600, 6)) < 0.9, rng.integers(0, 2, (600, 6)), block2)
    codes = np.concatenate([block2, block3], axis=1).astype(np.uint8)
    blocks = {2: slice(0, 6), 3: slice(6, 12)}
    weights, scores = learn_level_weights(codes, y, blocks, random_state=0)
    chosen = scores[tuple(weights[level] for level in blocks)]
    assert chosen >= max(scores[(1.0, 0.0)], scores[(0.0, 1.0)])
    assert weights[2] == 1.0 and weights[3] < 1.0
    # The scores are tie-aware mAPs of the fused distances on two disjoint samples.
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert scores[(1.0, 1.0)] == pytest.approx(
        _sample_map(codes, y, np.ones(12), random_state=0, score=mean_average_precision)
    )


def _sample_map(codes, y, bit_weights, *, random_state, score):
    from sklearn.utils import check_random_state

    from skhash.index._backend import dense_ranks

    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    order = rng.permutation(len(codes))
    queries, database = order[:300], order[300:600]
    fused = ((codes[queries][:, None] != codes[database][None]) * bit_weights).sum(axis=2)
    return score(y[queries], y[database], dense_ranks(fused), tie_aware=True)


def test_levels_rank_by_the_learnt_fusion_by_default(digits, two_levels):
    X, y = digits
    hasher = pickle.loads(pickle.dumps(two_levels))
    assert set(hasher.level_weights_) == {2, 3} and max(hasher.level_weights_.values()) == 1.0
    # Force a fusion that differs from plain Hamming, as fit would store it.
    hasher.level_weights_ = {2: 0.25, 3: 1.0}
    hasher.bit_weights_ = np.repeat([0.25, 1.0], 4)
    codes = hasher.transform(X)
    expected = 0.25 * hamming(codes[:20, :4], codes[:, :4]) + hamming(codes[:20, 4:], codes[:, 4:])
    dist, ind = hasher.kneighbors(X[:20], n_neighbors=6)
    order = np.lexsort((np.broadcast_to(np.arange(len(codes)), expected.shape), expected))
    np.testing.assert_array_equal(ind, order[:, :6])
    np.testing.assert_allclose(dist, np.take_along_axis(expected, order[:, :6], 1))
    from skhash.index._backend import dense_ranks
    from skhash.metrics import mean_average_precision

    assert hasher.score(X[:20], y[:20]) == pytest.approx(
        mean_average_precision(y[:20], y, dense_ranks(expected), tie_aware=True)
    )
    # Weights the user gives replace the learnt ones (and act through rerank, as before).
    hasher.set_params(bit_weights={3: 1.0})
    assert hasher._search_mode() == (None, hasher.rerank_factor)
    np.testing.assert_array_equal(
        hasher.kneighbors(X[:5], n_neighbors=6, return_distance=False),
        np.argsort(hasher.hamming_distances(X[:5]), axis=1, kind="stable")[:, :6],
    )


def test_no_fusion_without_labels_or_levels(digits):
    X, y = digits
    unsupervised = SCAE(n_bits=8, **FAST).fit(X)
    assert unsupervised.level_weights_ is None and unsupervised.bit_weights_ is None
    one_level = DSBH(n_bits=8, channels=(4, 6, 8), hidden=8, **FAST).fit(X, y)
    assert one_level.level_weights_ is None
    assert one_level._search_mode() == (None, 10)
