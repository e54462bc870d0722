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
    hasher.set_params(rerank=None)
    hamming_ind = hasher.kneighbors(X[:5], n_neighbors=12, return_distance=False)
    assert all(set(ind[i]) <= set(hamming_ind[i]) for i in range(5))  # re-ranked within 3x4
