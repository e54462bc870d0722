"""The deep hashers as scikit-learn estimators: each defect found in review, as a test."""

import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skhash.deep import (  # noqa: E402
    DSBH,
    Augmentation,
    Callback,
    Checkpoint,
    EarlyStopping,
)

TINY = dict(
    channels=(4, 4, 4), hidden=8, max_epochs=2, batch_size=16, device="cpu", random_state=0
)


def tiny(**kwargs):
    return DSBH(n_bits=8, **{**TINY, **kwargs})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:120] / 16).astype(np.float32), y[:120]


def test_augmentation_is_a_nested_estimator():
    hasher = DSBH(augmentation=Augmentation(rotation=5))
    hasher.set_params(augmentation__rotation=10)
    assert hasher.augmentation.rotation == 10
    assert hasher.get_params()["augmentation__rotation"] == 10
    copy = clone(hasher)
    assert copy.augmentation is not hasher.augmentation
    assert copy.augmentation.get_params() == hasher.augmentation.get_params()


def test_fit_leaves_the_callbacks_parameter_untouched(digits):
    X, y = digits
    stop = EarlyStopping(monitor="train_loss", patience=1)
    hasher = tiny(callbacks=[stop]).fit(X, y)
    assert vars(stop) == vars(EarlyStopping(monitor="train_loss", patience=1))
    assert hasher.callbacks_[-1] is not stop and hasattr(hasher.callbacks_[-1], "best_")


def test_params_changed_after_fit_do_not_break_unpickling(digits):
    X, y = digits
    hasher = tiny().fit(X, y)
    codes = hasher.transform(X)
    hasher.set_params(hidden=32, channels=(8, 8, 8), n_bits=16)
    loaded = pickle.loads(pickle.dumps(hasher))
    np.testing.assert_array_equal(loaded.transform(X), codes)


@pytest.mark.parametrize("monitor", ["valid_los", "pairwise_loss"])
def test_an_unknown_monitor_is_an_error_listing_the_keys(digits, monitor):
    X, y = digits
    with pytest.raises(ValueError, match=r"not in the epoch records.*train_loss"):
        tiny(callbacks=[EarlyStopping(monitor=monitor)]).fit(X, y)


def test_a_validation_monitor_without_a_split_says_so(digits):
    X, y = digits
    with pytest.raises(ValueError, match="validation_fraction"):
        tiny(callbacks=[EarlyStopping(monitor="valid_loss")]).fit(X, y)
    hasher = tiny(callbacks=[EarlyStopping(monitor="valid_loss")], validation_fraction=0.25)
    hasher.fit(X, y)
    assert hasher.best_epoch_ in {r["epoch"] for r in hasher.history_}


def test_checkpoint_adds_no_second_copy_to_the_pickle(digits):
    X, y = digits
    plain = len(pickle.dumps(tiny().fit(X, y)))
    checkpointed = tiny(callbacks=[Checkpoint(monitor="train_loss")]).fit(X, y)
    assert checkpointed.callbacks_[-1].best_epoch_ >= 1
    assert len(pickle.dumps(checkpointed)) < 1.1 * plain


def test_untrained_and_diverged_models_warn(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="max_epochs=0"):
        tiny(max_epochs=0).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny(lr=1e10, max_epochs=3, lr_schedule=None).fit(X, y)  # a finite loss of ~1e10
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    assert any("diverged" in m for m in messages) and any("same code" in m for m in messages)


def test_training_settings_are_validated(digits):
    X, y = digits
    with pytest.raises(ValueError, match="finite"):
        tiny(augmentation=Augmentation(rotation=float("nan"))).fit(X, y)
    with pytest.raises(ValueError, match="finite"):
        tiny(augmentation={"brightness": float("inf")}).fit(X, y)
    with pytest.raises(ValueError, match="crop_padding"):
        tiny(augmentation={"crop_padding": 1.5}).fit(X, y)
    with pytest.raises(ValueError, match="batch-norm"):
        tiny(batch_size=1).fit(X, y)
    with pytest.raises(ValueError, match="tuple of integers"):
        tiny(image_shape=(1.5, 8)).fit(X, y)
    with pytest.raises(ValueError, match="precision"):
        tiny(precision="float16").fit(X, y)


class _Interrupt(Callback):
    def __init__(self, at_epoch=2):
        self.at_epoch = at_epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.at_epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("warm_start", [False, True])
def test_an_interrupted_refit_leaves_the_estimator_as_it_was(digits, warm_start):
    X, y = digits
    hasher = tiny(warm_start=warm_start).fit(X, y)
    codes, db = hasher.transform(X), hasher.index_.codes_.copy()
    state = {k: v.clone() for k, v in hasher.module_.state_dict().items()}
    history = list(hasher.history_)
    hasher.set_params(callbacks=[_Interrupt(at_epoch=3 if warm_start else 2)])
    with pytest.raises(KeyboardInterrupt):
        hasher.fit(X[::-1], y[::-1])
    np.testing.assert_array_equal(hasher.transform(X), codes)
    np.testing.assert_array_equal(hasher.index_.codes_, db)
    assert hasher.history_ == history
    assert all(torch.equal(v, hasher.module_.state_dict()[k]) for k, v in state.items())


def test_n_jobs_fixes_torch_threads_so_codes_do_not_depend_on_the_process():
    from skhash.datasets import load_mnist_5k

    X, y = load_mnist_5k(return_X_y=True, as_images=True)
    X, y = X[::20], y[::20]  # 250 images of 28x28: where CPU convolutions differ by threads
    codes = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        hasher = DSBH(n_bits=32, max_epochs=1, device="cpu", random_state=0, n_jobs=1)
        codes.append(hasher.fit(X, y).transform(X))
        assert torch.get_num_threads() == threads  # restored after fit and transform
    np.testing.assert_array_equal(codes[0], codes[1])


def test_unpickling_elsewhere_warns_once_that_the_device_changed(digits):
    X, y = digits
    hasher = tiny().fit(X, y)
    state = hasher.__getstate__()
    state["device"], state["device_"] = "auto", "cuda:0"  # as saved on a GPU machine
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    clone_ = DSBH.__new__(DSBH)
    with pytest.warns(UserWarning, match="fitted on 'cuda:0'") as record:
        clone_.__setstate__(state)
    assert len(record) == 1 and clone_.device_ == "cpu"
    np.testing.assert_array_equal(clone_.transform(X), hasher.transform(X))
