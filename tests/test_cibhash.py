"""CIBHash, the trainer's multi-view step, and the near-duplicate augmentations."""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skhash import CIBHash  # noqa: E402
from skhash.deep import Augmentation  # noqa: E402
from skhash.deep._augment import _jpeg_like, check_augmentation  # noqa: E402
from skhash.deep._cibhash import contrastive_code_loss  # noqa: E402
from skhash.deep.testing import TINY_SETTINGS  # noqa: E402


def _crops(side=16, step=16):
    from skimage import data

    photo = data.astronaut()[::2, ::2]
    return np.stack(
        [
            photo[i : i + side, j : j + side]
            for i in range(0, 256 - side + 1, step)
            for j in range(0, 256 - side + 1, step)
        ]
    )


class _Spy(CIBHash):
    """CIBHash recording the shape of what its loss sees."""

    def _loss(self, outputs, batch):
        self.seen_.append((tuple(batch["x"].shape), len(batch["index"]), batch["n_views"]))
        if not hasattr(self, "views_"):
            self.views_ = batch["x"].detach().clone()
        return super()._loss(outputs, batch)


def test_trainer_gives_two_views_of_each_image():
    crops = _crops()[:40]
    spy = _Spy(n_bits=8, **{**TINY_SETTINGS, "augmentation": "near_duplicates"})
    spy.seen_ = []
    spy.fit(crops)
    for shape, m, n_views in spy.seen_:
        assert n_views == 2 and shape[0] == 2 * m
    first, second = spy.views_.chunk(2)
    assert not torch.allclose(first, second)  # independent augmentations
    # without augmentation the two views are the same images
    plain = _Spy(n_bits=8, **TINY_SETTINGS)
    plain.seen_ = []
    plain.fit(crops)
    first, second = plain.views_.chunk(2)
    torch.testing.assert_close(first, second)


def test_contrastive_loss_rewards_agreeing_views():
    rng = torch.Generator().manual_seed(0)
    codes = torch.randn(16, 32, generator=rng).sign()
    agree = contrastive_code_loss(torch.cat([codes, codes]), 2, 0.3)
    shuffled = torch.cat([codes, codes[torch.randperm(16, generator=rng)]])
    assert agree < contrastive_code_loss(shuffled, 2, 0.3)


def test_cibhash_learns_invariance():
    """After a short fit, edited copies are nearer their originals than before it."""
    crops = _crops()
    aug = Augmentation(brightness=0.3, noise=0.05, hflip=0.5)
    settings = {**TINY_SETTINGS, "augmentation": aug, "batch_size": 64}
    generator = torch.Generator().manual_seed(1)
    edited = aug(torch.from_numpy(crops.transpose(0, 3, 1, 2)).float(), generator, (0, 255))
    edited = edited.round().numpy().astype(np.uint8)

    def own_distance(hasher):
        d = hasher.hamming_distances(edited)
        return float(np.mean(d.diagonal() < np.sort(d, axis=1)[:, 1] + 1e-9))

    untrained = CIBHash(n_bits=32, **{**settings, "max_epochs": 0})
    with pytest.warns(Warning):
        untrained.fit(crops)
    trained = CIBHash(n_bits=32, **{**settings, "max_epochs": 15, "lr": 3e-3}).fit(crops)
    assert own_distance(trained) > own_distance(untrained)
    assert trained.history_[-1]["contrastive"] < trained.history_[0]["contrastive"]


def test_cibhash_on_vectors_with_mlp():
    X = np.random.default_rng(0).normal(size=(64, 20)).astype(np.float32)
    hasher = CIBHash(
        n_bits=8, backbone="mlp", **{**TINY_SETTINGS, "augmentation": "near_duplicates"}
    ).fit(X)
    assert hasher.transform(X).shape == (64, 8)
    assert hasher.augmentation_.get_params()["rotation"] == 0  # vectors: no geometry


def test_near_duplicate_augmentation():
    aug = check_augmentation("near_duplicates", (3, 32, 32))
    assert aug.jpeg > 0 and aug.hflip > 0 and aug.zoom > 0 and aug.scale > 0
    x = torch.from_numpy(_crops(32, 32)[:8].transpose(0, 3, 1, 2).copy()).float()
    out = aug(x, torch.Generator().manual_seed(0), (0, 255))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255
    assert not torch.allclose(out, x)
    with pytest.raises(ValueError, match="jpeg_quality"):
        Augmentation(jpeg=0.5, jpeg_quality=0).check()
    with pytest.raises(ValueError, match="probability"):
        Augmentation(jpeg=2).check()


@pytest.mark.parametrize("kind", ["blur", "noise", "scale", "zoom"])
def test_each_new_edit(kind):
    x = torch.from_numpy(_crops(32, 32)[:4].transpose(0, 3, 1, 2).copy()).float()
    value = {"blur": 1.5, "noise": 0.1, "scale": 0.5, "zoom": 0.3}[kind]
    out = Augmentation(**{kind: value})(x, torch.Generator().manual_seed(0), (0, 255))
    assert out.shape == x.shape and not torch.allclose(out, x)
    if kind == "blur":  # smoothing lowers the pixel-to-pixel differences
        assert (out.diff(dim=-1).abs().mean()) < x.diff(dim=-1).abs().mean()


def test_jpeg_like_matches_pillow():
    """The torch JPEG step is close to Pillow's encoder (4:4:4) at the same quality."""
    Image = pytest.importorskip("PIL.Image")
    crop = _crops(64, 64)[0]
    for quality in (30, 70):
        buffer = io.BytesIO()
        Image.fromarray(crop).save(buffer, "JPEG", quality=quality, subsampling=0)
        pil = np.asarray(Image.open(buffer)).astype(float)
        x = torch.from_numpy(crop.transpose(2, 0, 1).copy()).float()[None]
        ours = _jpeg_like(x, torch.tensor([float(quality)]), 0.0, 255.0)[0]
        ours = ours.permute(1, 2, 0).numpy()
        assert np.abs(ours - pil).mean() < 0.4 * np.abs(pil - crop).mean()


def test_perceptual_features_read_phash_frequencies():
    from skhash.deep import PerceptualFeatures

    backbone = PerceptualFeatures(size=16, n_frequencies=4, hidden=8)
    x = torch.from_numpy(_crops(16, 16)[:6].transpose(0, 3, 1, 2).copy()).float()
    assert backbone(x).shape == (6, 8)
    grey = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(dim=1)
    low = backbone.dct @ grey @ backbone.dct.T
    flipped = backbone.dct @ grey.flip(-1) @ backbone.dct.T
    # a horizontal flip negates the frequencies that are odd along the width
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0])
    torch.testing.assert_close(flipped, low * signs, atol=1e-3, rtol=1e-4)
    with pytest.raises(ValueError, match="n_frequencies"):
        PerceptualFeatures(size=8, n_frequencies=9)
    hasher = CIBHash(n_bits=8, backbone=backbone, **TINY_SETTINGS).fit(_crops()[:40])
    assert hasher.transform(_crops()[:3]).shape == (3, 8)
