"""ResNet-18, dual attention, DAHP and SCAE: fast CPU tests with tiny networks."""

import pickle

import numpy as np
import pytest
from _brute_force import hasher_map

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from skhash.deep._attention import DualAttention  # noqa: E402
from skhash.deep._base import BaseDeepHasher  # noqa: E402
from skhash.deep._dahp import DAHP  # noqa: E402
from skhash.deep._pretrained import load_pretrained  # noqa: E402
from skhash.deep._resnet import ResNet18  # noqa: E402
from skhash.deep._scae import SCAE  # noqa: E402
from skhash.deep._trainer import Trainer  # noqa: E402

FAST = dict(device="cpu", batch_size=32, augmentation=None, random_state=0)
TINY_DAHP = dict(n_bits=8, width=4, reduction=4, max_epochs=1, **FAST)
TINY_SCAE = dict(n_bits=8, channels=(4, 4), pretrain_epochs=2, max_epochs=1, **FAST)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:160] / 16).reshape(-1, 8, 8).astype(np.float32), y[:160]


def torchvision_resnet18_keys():
    """The ``state_dict`` keys of torchvision's ``resnet18()``, from its architecture: the
    stem, four stages of two BasicBlocks (stages 2-4 open with a 1x1 downsample), the head."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight", *(f"bn1.{b}" for b in bn)]
    for stage in range(1, 5):
        for block in range(2):
            p = f"layer{stage}.{block}"
            keys += [f"{p}.conv1.weight", *(f"{p}.bn1.{b}" for b in bn)]
            keys += [f"{p}.conv2.weight", *(f"{p}.bn2.{b}" for b in bn)]
            if stage > 1 and block == 0:
                keys += [f"{p}.downsample.0.weight", *(f"{p}.downsample.1.{b}" for b in bn)]
    return keys + ["fc.weight", "fc.bias"]


# -- ResNet-18 --------------------------------------------------------------------------


def test_resnet18_keys_match_torchvision():
    expected = torchvision_resnet18_keys()
    assert len(expected) == 122
    assert list(ResNet18().state_dict()) == expected
    # The small-input stem and other widths keep the names.
    assert list(ResNet18(1, small_input=True, width=4).state_dict()) == expected
    assert list(ResNet18(num_classes=None, width=4).state_dict()) == expected[:-2]


def test_resnet18_parameter_count_and_shapes():
    model = ResNet18()
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    assert model.state_dict()["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert model.state_dict()["fc.weight"].shape == (1000, 512)


@pytest.mark.parametrize("side", [8, 28, 224])
@pytest.mark.parametrize("small", [False, True])
def test_resnet18_any_input_size(side, small):
    if side == 224 and small:
        pytest.skip("the small-input stem is not meant for 224x224 (and is slow)")
    model = ResNet18(3, num_classes=5, small_input=small, width=4).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, side, side)).shape == (2, 5)


def test_load_pretrained_round_trip(tmp_path):
    source = ResNet18(3, num_classes=1000, width=8)
    torch.nn.init.normal_(source.conv1.weight)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    target = load_pretrained(ResNet18(3, num_classes=None, width=8), path)  # fc is ignored
    for k, v in target.state_dict().items():
        assert torch.equal(v, source.state_dict()[k]), k


def test_load_pretrained_adapts_stem(tmp_path):
    source = ResNet18(3, width=8)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": source.state_dict()}, path)  # a checkpoint dict also works
    target = load_pretrained(ResNet18(1, small_input=True, width=8), path)
    w, w0 = target.conv1.weight, source.conv1.weight
    assert w.shape == (8, 1, 3, 3)
    # RGB kernels summed for grey input, the 7x7 kernel resized with its sum kept.
    assert torch.allclose(w.sum(dim=(1, 2, 3)), w0.sum(dim=(1, 2, 3)), atol=1e-5)
    assert torch.equal(target.layer3[0].conv1.weight, source.layer3[0].conv1.weight)


def test_load_pretrained_errors(tmp_path):
    model = ResNet18(width=8)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(model, tmp_path / "missing.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save(torch.nn.Linear(3, 2).state_dict(), wrong)
    with pytest.raises(ValueError, match="does not match the ResNet backbone's keys.*missing"):
        load_pretrained(model, wrong)
    not_a_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], not_a_dict)
    with pytest.raises(ValueError, match="does not hold a state_dict"):
        load_pretrained(model, not_a_dict)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="Could not read"):
        load_pretrained(model, garbage)
    other_width = tmp_path / "width4.pth"
    torch.save(ResNet18(width=4).state_dict(), other_width)
    with pytest.raises(ValueError, match="Shapes .* do not match"):
        load_pretrained(model, other_width)


# -- attention --------------------------------------------------------------------------


@pytest.mark.parametrize("side", [1, 3, 9])
def test_dual_attention_shapes_and_weights(side):
    torch.manual_seed(0)
    att = DualAttention(16, reduction=4)
    x = torch.randn(3, 16, side, side)
    out, channel, spatial = att(x, return_weights=True)
    assert out.shape == x.shape
    assert channel.shape == (3, 16, 1, 1)
    assert spatial.shape == (3, 1, side, side)
    for w in (channel, spatial):
        assert ((w > 0) & (w < 1)).all()
    assert torch.allclose(out, x * channel * spatial)
    assert torch.equal(att(x), out)
    with pytest.raises(ValueError, match="odd"):
        DualAttention(16, kernel_size=4)


# -- DAHP -------------------------------------------------------------------------------


def test_dahp_fit_transform_kneighbors(digits):
    X, y = digits
    hasher = DAHP(**TINY_DAHP).fit(X, y)
    codes = hasher.transform(X[:10])
    assert codes.shape == (10, 8) and codes.dtype == np.uint8
    assert set(np.unique(codes)) <= {0, 1}
    dist, ind = hasher.kneighbors(X[:5], n_neighbors=3)
    assert dist.shape == ind.shape == (5, 3)
    assert (np.diff(dist, axis=1) >= 0).all()
    record = hasher.history_[-1]
    assert {"anchor", "pairwise", "train_loss"} <= set(record)
    anchors = hasher.module_.heads[0].anchors
    assert anchors.shape == (10, 8) and set(anchors.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(a) for a in anchors.tolist()}) == 10
    expected = hasher_map(hasher, X[:20], y[:20])
    assert hasher.score(X[:20], y[:20], tie_aware=False) == pytest.approx(expected)


def test_dahp_learns(digits):
    X, y = digits
    settings = {**TINY_DAHP, "width": 8, "max_epochs": 10, "lr": 3e-3}
    hasher = DAHP(**settings).fit(X, y)
    losses = [r["train_loss"] for r in hasher.history_]
    assert losses[-1] < losses[0]
    assert hasher.score(X, y) > 0.5  # chance is about 0.1


def test_dahp_multilabel(digits):
    X, y = digits
    Y = np.stack([y % 2 == 0, y < 5, y == 7], axis=1).astype(int)
    hasher = DAHP(**TINY_DAHP).fit(X, Y)
    assert hasher.module_.heads[0].anchors.shape == (3, 8)
    expected = hasher_map(hasher, X[:20], Y[:20])
    assert hasher.score(X[:20], Y[:20], tie_aware=False) == pytest.approx(expected)


def test_dahp_no_attention_and_options(digits):
    X, y = digits
    hasher = DAHP(**{**TINY_DAHP, "attention_stages": (), "small_input": False}).fit(X, y)
    assert len(hasher.module_.attention) == 0
    assert isinstance(hasher.module_.backbone.maxpool, torch.nn.MaxPool2d)
    assert hasher.transform(X[:2]).shape == (2, 8)


def test_dahp_pretrained(digits, tmp_path):
    X, y = digits
    source = ResNet18(3, width=4)
    torch.nn.init.normal_(source.layer2[0].conv1.weight)
    path = tmp_path / "r18.pth"
    torch.save(source.state_dict(), path)
    hasher = DAHP(**{**TINY_DAHP, "max_epochs": 0, "pretrained": str(path)}).fit(X, y)
    assert torch.equal(
        hasher.module_.backbone.layer2[0].conv1.weight, source.layer2[0].conv1.weight
    )
    assert hasher.module_.backbone.conv1.weight.shape == (4, 1, 3, 3)  # grey, small stem
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DAHP(**{**TINY_DAHP, "pretrained": str(tmp_path / "nope.pth")}).fit(X, y)


def test_dahp_bad_inputs(digits):
    X, y = digits
    with pytest.raises(ValueError, match="requires y"):
        DAHP(**TINY_DAHP).fit(X)
    with pytest.raises(ValueError, match="attention_stages"):
        DAHP(**{**TINY_DAHP, "attention_stages": (5,)}).fit(X, y)
    with pytest.raises(InvalidParameterError, match="pretrained"):
        DAHP(**{**TINY_DAHP, "pretrained": 3}).fit(X, y)
    with pytest.raises(InvalidParameterError, match="small_input"):
        DAHP(**{**TINY_DAHP, "small_input": "yes"}).fit(X, y)
    hasher = DAHP(**TINY_DAHP).fit(X, y)
    with pytest.raises(ValueError, match="shape"):
        hasher.transform(np.zeros((2, 9, 9)))
    with pytest.raises(ValueError, match="159 labels, but there are 160 samples"):
        DAHP(**TINY_DAHP).fit(X, y[:-1])


# -- SCAE -------------------------------------------------------------------------------


def test_scae_fit_without_y(digits):
    X, _ = digits
    hasher = SCAE(**TINY_SCAE).fit(X)
    codes = hasher.transform(X[:7])
    assert codes.shape == (7, 8) and set(np.unique(codes)) <= {0, 1}
    dist, ind = hasher.kneighbors(n_neighbors=2)
    assert ind.shape == (len(X), 2) and (ind != np.arange(len(X))[:, None]).all()
    assert hasher.database_labels_ is None
    with pytest.raises(ValueError, match="labelled database"):
        hasher.score(X[:5], np.zeros(5))


def test_scae_labels_only_index_the_database(digits):
    X, y = digits
    with_y, without_y = SCAE(**TINY_SCAE).fit(X, y), SCAE(**TINY_SCAE).fit(X)
    np.testing.assert_array_equal(with_y.transform(X), without_y.transform(X))
    expected = hasher_map(with_y, X[:20], y[:20])
    assert with_y.score(X[:20], y[:20], tie_aware=False) == pytest.approx(expected)


def test_scae_pretraining_stages_reduce_reconstruction(digits):
    X, _ = digits
    hasher = SCAE(**{**TINY_SCAE, "pretrain_epochs": 4, "lr": 3e-3}).fit(X)
    stages = [r["stage"] for r in hasher.history_]
    assert stages == ["pretrain-1"] * 4 + ["pretrain-2"] * 4 + ["finetune"]
    assert [r["epoch"] for r in hasher.history_] == list(range(1, 10))
    for stage in ("pretrain-1", "pretrain-2"):
        losses = [r["reconstruction"] for r in hasher.history_ if r["stage"] == stage]
        assert losses[-1] < losses[0], stage
    assert {"reconstruction", "quantization", "balance"} <= set(hasher.history_[-1])


def test_scae_pretraining_runs_the_shared_trainer(digits, monkeypatch):
    X, _ = digits
    calls = []
    fit = Trainer.fit

    def spy(self, *args, **kwargs):
        calls.append((self.stage, sum(len(g["params"]) for g in self.param_groups)))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)
    hasher = SCAE(**{**TINY_SCAE, "channels": (4, 4, 4)}).fit(X)
    n_all = len(list(hasher.module_.parameters()))
    # encoder conv + BN (3 tensors) and decoder conv (2) per stage, then everything.
    assert calls == [("pretrain-1", 5), ("pretrain-2", 5), ("pretrain-3", 5), ("finetune", n_all)]
    calls.clear()
    SCAE(**{**TINY_SCAE, "pretrain_epochs": 0}).fit(X)
    assert [c[0] for c in calls] == ["finetune"]


def test_scae_pretraining_freezes_lower_layers(digits, monkeypatch):
    X, _ = digits
    states, fit = [], Trainer.fit

    def snapshot_after(self, *args, **kwargs):  # the first encoder layer after every stage
        history = fit(self, *args, **kwargs)
        net = getattr(self.module, "net", self.module)
        states.append({k: v.clone() for k, v in net.backbone.encoders[0].state_dict().items()})
        return history

    monkeypatch.setattr(Trainer, "fit", snapshot_after)
    SCAE(**TINY_SCAE).fit(X)
    after_1, after_2, after_finetune = states
    for k in after_1:  # weights and batch-norm statistics of layer 1 untouched in stage 2
        assert torch.equal(after_1[k], after_2[k]), k
    assert not torch.equal(after_2["0.weight"], after_finetune["0.weight"])


def test_scae_multiscale_fusion(digits):
    X, _ = digits
    one = SCAE(**{**TINY_SCAE, "scales": (1.0,), "pool_size": 1}).fit(X)
    three = SCAE(**{**TINY_SCAE, "scales": (1.0, 0.5, 0.25), "pool_size": 1}).fit(X)
    assert one.module_.hash.in_features == 4 and three.module_.hash.in_features == 12
    pyramid = three.module_.backbone.pyramid(torch.zeros(1, 1, 8, 8))
    sizes = [tuple(p.shape[-2:]) for p in pyramid]
    assert sizes == [(8, 8), (4, 4), (2, 2)]
    out = three.module_(torch.zeros(2, 1, 8, 8))
    assert out["recon"].shape == (2, 1, 8, 8)


def test_scae_warm_start_skips_pretraining(digits):
    X, _ = digits
    hasher = SCAE(**{**TINY_SCAE, "warm_start": True}).fit(X)
    n = len(hasher.history_)
    hasher.fit(X)
    assert [r["stage"] for r in hasher.history_[n:]] == ["finetune"]


def test_scae_bad_inputs(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="scales"):
        SCAE(**{**TINY_SCAE, "scales": (0.0,)}).fit(X)
    with pytest.raises(ValueError, match="scales"):
        SCAE(**{**TINY_SCAE, "scales": (2.0,)}).fit(X)
    with pytest.raises(ValueError, match="channels"):
        SCAE(**{**TINY_SCAE, "channels": ()}).fit(X)
    with pytest.raises(InvalidParameterError, match="pretrain_epochs"):
        SCAE(**{**TINY_SCAE, "pretrain_epochs": -1}).fit(X)
    with pytest.raises(ValueError, match="image_shape"):
        SCAE(**{**TINY_SCAE, "image_shape": (3, 3)}).fit(X.reshape(len(X), -1))


# -- both -------------------------------------------------------------------------------


def _make(name):
    return DAHP(**TINY_DAHP) if name == "DAHP" else SCAE(**TINY_SCAE)


@pytest.mark.parametrize("name", ["DAHP", "SCAE"])
def test_deterministic_under_random_state(digits, name):
    X, y = digits
    rng_state = torch.random.get_rng_state()
    a, b = _make(name).fit(X, y), _make(name).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), rng_state)  # global RNG untouched
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert [r["train_loss"] for r in a.history_] == [r["train_loss"] for r in b.history_]
    c = _make(name).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("name", ["DAHP", "SCAE"])
def test_pickle_round_trip(digits, name):
    X, y = digits
    hasher = _make(name).fit(X, y)
    state = hasher.__getstate__()
    assert all(v.device.type == "cpu" for v in state["module_"].state_dict().values())
    assert state["module_"] is not hasher.module_
    clone = pickle.loads(pickle.dumps(hasher))
    np.testing.assert_array_equal(clone.transform(X), hasher.transform(X))
    np.testing.assert_array_equal(clone.kneighbors(X[:3])[1], hasher.kneighbors(X[:3])[1])


@pytest.mark.parametrize("name", ["DAHP", "SCAE"])
def test_flat_input_and_base_class(digits, name):
    X, y = digits
    hasher = _make(name)
    assert isinstance(hasher, BaseDeepHasher)
    flat = hasher.fit(X.reshape(len(X), -1), y).transform(X[:4].reshape(4, -1))
    assert hasher.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(flat, hasher.transform(X[:4]))
