"""The perturbations shared by compare's robustness and the near-duplicate benchmark."""

import numpy as np
import pytest

from skhash.compare import PERTURBATIONS, perturb

NEW_KINDS = ("jpeg", "scale", "gain", "contrast", "blur", "hflip")


def _photo_crops():
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[0]
    return np.stack([photo[i : i + 32, 100:132] for i in (0, 100, 200)]).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_new_kinds(kind):
    images = _photo_crops().astype(np.float64)
    assert kind in PERTURBATIONS
    np.testing.assert_array_equal(perturb(images, kind, 0, value_range=(0, 255)), images)
    out = perturb(images, kind, PERTURBATIONS[kind][-1], value_range=(0, 255), random_state=0)
    assert out.shape == images.shape and not np.allclose(out, images)
    assert out.min() >= 0 and out.max() <= 255


def test_semantics():
    images = _photo_crops().astype(np.float64)
    flipped = perturb(images, "hflip", 1.0)
    np.testing.assert_array_equal(flipped, images[..., ::-1])
    gain = perturb(images, "gain", 0.25, value_range=(0, 1000), random_state=0)
    ratio = gain.sum(axis=(1, 2, 3)) / images.sum(axis=(1, 2, 3))
    assert set(ratio.round(6)) <= {0.75, 1.25}
    blurred = perturb(images, "blur", 2.0, value_range=(0, 255))
    assert np.abs(np.diff(blurred, axis=-1)).mean() < np.abs(np.diff(images, axis=-1)).mean()
    # a JPEG at quality 30 loses more than one at quality 90
    q30 = perturb(images, "jpeg", 70, value_range=(0, 255))
    q90 = perturb(images, "jpeg", 10, value_range=(0, 255))
    assert np.abs(q30 - images).mean() > np.abs(q90 - images).mean() > 0
    half = perturb(images, "scale", 0.5, value_range=(0, 255))
    assert np.abs(half - images).mean() > 0


def test_grey_images_and_bad_strengths():
    grey = _photo_crops()[:, 0].astype(np.float64)
    assert perturb(grey, "jpeg", 60, value_range=(0, 255)).shape == grey.shape
    with pytest.raises(ValueError, match="quality"):
        perturb(grey, "jpeg", 100)
    with pytest.raises(ValueError, match="probability"):
        perturb(grey, "hflip", 2)
    with pytest.raises(ValueError, match="fraction"):
        perturb(grey, "scale", 1)
