"""Deep hashers: trainer, inputs, devices, pickling, losses (fast, CPU, tiny settings)."""

import math
import pickle

import numpy as np
import pytest
from _brute_force import hasher_map

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from skhash.deep import (  # noqa: E402
    DPHB,
    DSBH,
    Augmentation,
    Callback,
    Checkpoint,
    EarlyStopping,
)
from skhash.deep import _losses as L  # noqa: E402
from skhash.deep._device import resolve_device  # noqa: E402
from skhash.deep._inputs import batch_bounds  # noqa: E402

TINY = dict(
    channels=(8, 8, 8), hidden=16, max_epochs=2, batch_size=32, device="cpu", random_state=0
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:240] / 16).astype(np.float32), y[:240]


def tiny(**kwargs):
    return DSBH(n_bits=8, **{**TINY, **kwargs})


# -- determinism and random state ---------------------------------------------------------
def test_same_random_state_gives_identical_codes_and_history(digits):
    X, y = digits
    a, b = tiny().fit(X, y), tiny().fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert [r["train_loss"] for r in a.history_] == [r["train_loss"] for r in b.history_]
    c = tiny(random_state=1).fit(X, y)
    wa, wc = a.module_.heads[0].hash.weight, c.module_.heads[0].hash.weight
    assert not torch.equal(wa, wc)


def test_fit_does_not_touch_global_torch_rng(digits):
    X, y = digits
    before = torch.get_rng_state()
    tiny(dropout=0.5, augmentation=dict(crop_padding=1, brightness=0.1)).fit(X, y)
    assert torch.equal(before, torch.get_rng_state())


def test_dphb_deterministic(digits):
    X, y = digits
    kw = dict(n_bits=8, width=1 / 16, fc_dim=16, max_epochs=1, device="cpu", random_state=3)
    np.testing.assert_array_equal(
        DPHB(**kw).fit(X, y).transform(X), DPHB(**kw).fit(X, y).transform(X)
    )


# -- pickling and devices ------------------------------------------------------------------
def _walk(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v)
    else:
        yield obj


def test_pickle_round_trip_is_device_free(digits):
    X, y = digits
    hasher = tiny().fit(X, y)
    state = hasher.__getstate__()
    leaves = list(_walk(state))
    assert not any(isinstance(v, (torch.device, torch.Generator)) for v in leaves)
    tensors = list(state["module_"].state_dict().values())
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    clone = pickle.loads(pickle.dumps(hasher))
    assert clone.device_ == "cpu" and isinstance(clone.module_, torch.nn.Module)
    np.testing.assert_array_equal(clone.transform(X), hasher.transform(X))
    np.testing.assert_array_equal(clone.kneighbors(X[:5])[1], hasher.kneighbors(X[:5])[1])


def test_unpickling_a_cuda_model_on_cpu_falls_back_to_cpu(digits):
    X, y = digits
    hasher = tiny().fit(X, y)
    state = hasher.__getstate__()
    state["device"], state["device_"] = "cuda", "cuda"  # as saved on a GPU machine
    clone = DSBH.__new__(DSBH)
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    clone.__setstate__(state)
    assert clone.device_ == "cpu"
    np.testing.assert_array_equal(clone.transform(X), hasher.transform(X))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_a_clear_error(digits, device):
    X, y = digits
    with pytest.raises(ValueError, match="CUDA is not available"):
        tiny(device=device).fit(X, y)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU", "cuda:-1", 0])
def test_unknown_device_is_an_error(device):
    with pytest.raises(ValueError, match="device must be"):
        resolve_device(device)


def test_devices_as_strings_and_torch_devices():
    assert resolve_device(torch.device("cpu")) == "cpu"
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            resolve_device("mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device(torch.device("cuda", 0))


def test_auto_device_picks_cuda_only_when_available():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


# -- labels and shapes ---------------------------------------------------------------------
def test_supervised_needs_y(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="requires y"):
        tiny().fit(X)


@pytest.mark.parametrize(
    "bad_y, match",
    [
        (lambda y: y[:-1], "labels, but there are"),
        (lambda y: np.zeros((len(y), 2, 2)), "1-D class labels"),
        (lambda y: np.full((len(y), 3), 2), "binary label-indicator"),
    ],
)
def test_bad_labels(digits, bad_y, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        tiny().fit(X, bad_y(y))


def test_bad_shapes(digits):
    X, y = digits
    hasher = tiny().fit(X.reshape(-1, 8, 8), y)
    with pytest.raises(ValueError, match=r"shape \(1, 7, 7\).*\(1, 8, 8\)"):
        hasher.transform(np.zeros((2, 7, 7)))
    with pytest.raises(ValueError, match="features"):
        hasher.transform(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="NaN"):
        hasher.transform(np.full((2, 8, 8), np.nan))
    with pytest.raises(ValueError, match="image_shape"):
        tiny(image_shape=(3, 8, 8)).fit(X, y)
    with pytest.raises(ValueError, match="image_shape"):
        tiny(image_shape=(2, 8, 8)).fit(X.reshape(-1, 8, 8), y)
    with pytest.raises(ValueError, match="images of shape"):
        tiny().fit(np.zeros((4, 2, 2, 2, 2)), [0, 1, 0, 1])


def test_multilabel_y(digits):
    X, y = digits
    Y = np.stack([y % 2, y >= 5, y == 0], axis=1).astype(int)
    hasher = tiny().fit(X, Y)
    assert hasher.n_classes_ == 3 and not hasattr(hasher, "classes_")
    expected = hasher_map(hasher, X[:20], Y[:20])
    assert hasher.score(X[:20], Y[:20], tie_aware=False) == pytest.approx(expected)


# -- image inputs --------------------------------------------------------------------------
def test_every_array_form_gives_the_same_codes(digits):
    X, y = digits
    hasher = tiny().fit(X.reshape(-1, 8, 8), y)
    assert hasher.image_shape_ == (1, 8, 8) and hasher.n_features_in_ == 64
    codes = hasher.transform(X.reshape(-1, 8, 8))
    np.testing.assert_array_equal(codes, hasher.transform(X.reshape(-1, 1, 8, 8)))
    np.testing.assert_array_equal(codes, hasher.transform(X))
    flat = tiny().fit(X, y)  # 64 features: read as 8x8
    assert flat.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(codes, flat.transform(X))


@pytest.mark.parametrize(
    "n_features, image_shape, expected",
    [
        (64, None, (1, 8, 8)),
        (10, None, (1, 1, 10)),
        (48, (3, 4, 4), (3, 4, 4)),
        (12, (3, 4), (1, 3, 4)),
    ],
)
def test_flat_input_shapes(n_features, image_shape, expected):
    X = np.random.default_rng(0).normal(size=(20, n_features))
    hasher = tiny(image_shape=image_shape).fit(X, np.arange(20) % 2)
    assert hasher.image_shape_ == expected
    assert hasher.transform(X).shape == (20, 8)


def test_colour_images_with_grayscale_augmentation():
    X = np.random.default_rng(0).uniform(size=(24, 3, 16, 16)).astype(np.float32)
    aug = Augmentation(crop_padding=2, hflip=0.5, rotation=15, brightness=0.2, grayscale=0.5)
    hasher = tiny(augmentation=aug).fit(X, np.arange(24) % 3)
    assert hasher.channel_mean_.shape == (3,)
    assert hasher.transform(X).shape == (24, 8)


def test_image_files(tmp_path, digits):
    Image = pytest.importorskip("PIL.Image")
    X, y = digits
    paths = []
    for i in range(20):
        path = tmp_path / f"{i}.png"
        Image.fromarray((X[i].reshape(8, 8) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    hasher = tiny(image_shape=(1, 8, 8)).fit(paths, y[:20])
    assert hasher.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(
        hasher.transform(paths), hasher.transform(X[:20].reshape(-1, 8, 8))
    )
    rgb = tiny().fit(np.array(paths), y[:20])  # default: 32x32 RGB
    assert rgb.image_shape_ == (3, 32, 32)
    assert rgb.transform(paths[:3]).shape == (3, 8)


# -- history, callbacks, warm start --------------------------------------------------------
def test_history_is_a_table(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    hasher = tiny(max_epochs=3, validation_fraction=0.2).fit(X, y)
    df = pd.DataFrame(hasher.history_)
    expected = {"epoch", "train_loss", "pairwise", "classification", "balance", "valid_loss"}
    assert expected | {"lr", "dur"} <= set(df.columns)
    assert df["epoch"].tolist() == [1, 2, 3]
    parts = df["pairwise"] + df["classification"] + df["balance"]
    np.testing.assert_allclose(df["train_loss"], parts, rtol=1e-5)
    assert df["lr"].is_monotonic_decreasing and df["lr"].iloc[-1] < df["lr"].iloc[0]  # cosine


class Recorder(Callback):
    def on_train_begin(self, trainer):
        self.calls = ["begin"]

    def on_epoch_end(self, trainer, record):
        self.calls.append(record["epoch"])

    def on_train_end(self, trainer):
        self.calls.append("end")


def test_callbacks_and_early_stopping(digits, tmp_path):
    X, y = digits
    rec, stop = Recorder(), EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    ckpt = Checkpoint(path=tmp_path / "best.pt", monitor="train_loss")
    hasher = tiny(max_epochs=10, callbacks=[rec, stop, ckpt]).fit(X, y)
    fitted = hasher.callbacks_[-3]  # after the built-in LRScheduler
    assert fitted.calls == ["begin", 1, 2, "end"]  # no relative improvement of 1000%
    assert not hasattr(rec, "calls") and hasher.callbacks == [rec, stop, ckpt]  # untouched
    assert len(hasher.history_) == 2
    saved = torch.load(tmp_path / "best.pt")
    assert set(saved) == set(hasher.module_.state_dict())


def test_validation_split_early_stopping(digits):
    X, y = digits
    hasher = tiny(max_epochs=50, validation_fraction=0.25, patience=1, lr=1e-7).fit(X, y)
    assert len(hasher.history_) < 50
    with pytest.raises(ValueError, match="validation_fraction"):
        tiny(validation_fraction=0.01).fit(X[:20], y[:20])


def test_warm_start_continues_training(digits):
    X, y = digits
    hasher = tiny(warm_start=True).fit(X, y)
    before = {k: v.clone() for k, v in hasher.module_.state_dict().items()}
    hasher.fit(X, y)
    assert [r["epoch"] for r in hasher.history_] == [1, 2, 3, 4]
    after = hasher.module_.state_dict()
    assert not torch.equal(before["heads.0.hash.weight"], after["heads.0.hash.weight"])
    # continued from the first fit's weights: a second network trained from scratch differs
    cold = tiny(max_epochs=4).fit(X, y)
    assert not torch.equal(
        cold.module_.state_dict()["heads.0.hash.weight"], after["heads.0.hash.weight"]
    )
    cold = tiny().fit(X, y)
    cold.fit(X, y)
    assert [r["epoch"] for r in cold.history_] == [1, 2]


def test_verbose_shows_a_progress_bar(digits, capsys):
    X, y = digits
    tiny(verbose=1).fit(X[:40], y[:40])
    assert "DSBH" in capsys.readouterr().err
    tiny(verbose=0).fit(X[:40], y[:40])
    assert capsys.readouterr().err == ""


def test_single_item_last_batch_is_merged():
    assert batch_bounds(5, 2) == [(0, 2), (2, 5)]
    assert batch_bounds(4, 2) == [(0, 2), (2, 4)]
    assert batch_bounds(1, 4) == [(0, 1)]


# -- sklearn integration -------------------------------------------------------------------
def test_grid_search_and_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(FunctionTransformer(lambda a: a.reshape(-1, 8, 8)), tiny(max_epochs=1))
    assert pipe.fit(X, y).transform(X[:3]).shape == (3, 8)
    search = GridSearchCV(tiny(max_epochs=1), {"n_bits": [4, 8]}, cv=2).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_["n_bits"] == [4, 8][int(np.argmax(scores))]
    # each split's score is the tie-aware mAP of its validation half against its training half
    first = tiny(max_epochs=1).set_params(n_bits=4).fit(X[120:], y[120:])
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        first.score(X[:120], y[:120])
    )


def test_learns_on_digits(digits):
    X, y = digits
    hasher = DSBH(n_bits=16, max_epochs=8, device="cpu", random_state=0).fit(X[:200], y[:200])
    assert hasher.score(X[200:], y[200:]) > 0.5  # chance is about 0.1
    assert hasher.history_[-1]["train_loss"] < hasher.history_[0]["train_loss"]


# -- losses --------------------------------------------------------------------------------
def test_sign_ste_forward_and_gradient():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    out = L.sign_ste(x, clip=1.0)
    assert out.tolist() == [-1, -1, -1, 1, 1]
    out.backward(torch.arange(1.0, 6.0))
    assert x.grad.tolist() == [0, 2, 3, 4, 0]  # passed through where |x| <= 1
    x.grad = None
    L.sign_ste(x, clip=None).sum().backward()
    assert x.grad.tolist() == [1, 1, 1, 1, 1]


def test_pairwise_similarity_shares_a_label():
    Y = torch.tensor([[1.0, 0, 0], [1, 1, 0], [0, 0, 1]])
    S = L.pairwise_similarity(Y)
    assert S.tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_pairwise_likelihood_loss_hand_case():
    u = torch.tensor([[1.0, 1.0]])
    # theta = 0.5 * 2 = 1: similar -> log(1 + e) - 1, dissimilar -> log(1 + e)
    sim = L.pairwise_likelihood_loss(u, u, torch.ones(1, 1))
    dis = L.pairwise_likelihood_loss(u, u, torch.zeros(1, 1))
    assert math.isclose(sim.item(), math.log1p(math.e) - 1, rel_tol=1e-6)
    assert math.isclose(dis.item(), math.log1p(math.e), rel_tol=1e-6)


def test_pairwise_margin_loss_hand_case():
    a, b = torch.tensor([[1.0, 1, 1, 1]]), torch.tensor([[-1.0, -1, -1, -1]])
    assert L.pairwise_margin_loss(a, a, torch.ones(1, 1)).item() == 0  # same code, similar
    assert L.pairwise_margin_loss(a, b, torch.zeros(1, 1)).item() == 0  # far apart, dissimilar
    assert L.pairwise_margin_loss(a, b, torch.ones(1, 1)).item() == 1  # d = 4 bits, / 4
    assert L.pairwise_margin_loss(a, a, torch.zeros(1, 1)).item() == 0.5  # margin 2, / 4


def test_classification_loss_hand_case():
    Y = torch.tensor([[0.0, 1.0]])
    logits = torch.tensor([[0.0, 0.0]])
    assert math.isclose(L.classification_loss(logits, Y).item(), math.log(2), rel_tol=1e-6)
    ml = L.classification_loss(logits, Y, multilabel=True).item()
    assert math.isclose(ml, math.log(2), rel_tol=1e-6)
    assert L.classification_loss(torch.tensor([[-20.0, 20.0]]), Y).item() < 1e-6


def test_balance_and_quantization_hand_cases():
    assert L.bit_balance_loss(torch.tensor([[1.0], [-1.0]])).item() == 0
    assert L.bit_balance_loss(torch.tensor([[1.0], [1.0]])).item() == 1
    assert L.quantization_loss(torch.tensor([[1.0, -1.0]])).item() == 0
    assert L.quantization_loss(torch.tensor([[0.0, 0.5]])).item() == (1 + 0.25) / 2


def test_hash_centers_and_anchor_loss():
    C = L.hash_centers(10, 16)
    assert C.shape == (10, 16) and set(C.unique().tolist()) == {-1.0, 1.0}
    dist = (16 - C @ C.T) / 2
    assert dist[~torch.eye(10, dtype=bool)].min() >= 8  # Hadamard rows: >= n_bits / 2 apart
    R = L.hash_centers(3, 12, torch.Generator().manual_seed(0))  # not a power of two
    assert R.shape == (3, 12)
    Y = torch.eye(10)[[0, 3]]
    near = L.spatial_anchor_loss(0.99 * C[[0, 3]], Y, C).item()
    far = L.spatial_anchor_loss(-0.99 * C[[0, 3]], Y, C).item()
    assert near < 0.02 < 4 < far


def test_reconstruction_loss():
    x = torch.ones(2, 1, 3, 3)
    assert L.reconstruction_loss(x, x).item() == 0
    assert L.reconstruction_loss(x * 3, x).item() == 4


# -- augmentation --------------------------------------------------------------------------
def test_augmentation_is_reproducible_and_exact():
    x = torch.arange(2 * 16.0).reshape(2, 1, 4, 4)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    flip = Augmentation(hflip=1.0)(x, g())
    torch.testing.assert_close(flip, x.flip(-1))
    aug = Augmentation(crop_padding=1, rotation=20, brightness=0.3)
    torch.testing.assert_close(aug(x, g()), aug(x, g()))
    shifted = Augmentation(crop_padding=3)(x, g())
    # Integer shifts: every value is one of the inputs or the zero padding.
    assert set(shifted.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
    assert Augmentation.auto((1, 8, 8)) is None
    assert Augmentation.auto((1, 28, 28)).crop_padding == 2
    with pytest.raises(ValueError, match="probability"):
        tiny(augmentation=dict(hflip=2)).fit(np.zeros((4, 8, 8)), [0, 1, 0, 1])
