"""Backbones: built-in names, torchvision layouts, user modules, pretrained files, fine-tuning."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

from skhash.deep import BACKBONES, DAHP, DPHB, DSBH, MLP, SCAE  # noqa: E402
from skhash.deep._alexnet import AlexNet  # noqa: E402
from skhash.deep._backbones import build_backbone  # noqa: E402
from skhash.deep._resnet import ResNet  # noqa: E402

FAST = dict(max_epochs=1, batch_size=16, device="cpu", random_state=0, augmentation=None)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:96] / 16).astype(np.float32), y[:96]


def n_parameters(model):
    return sum(p.numel() for p in model.parameters())


# torchvision's parameter counts, ImageNet heads included (its documentation's model tables).
@pytest.mark.parametrize(
    "model, expected",
    [
        (lambda: ResNet(18, num_classes=1000), 11_689_512),
        (lambda: ResNet(34, num_classes=1000), 21_797_672),
        (lambda: ResNet(50, num_classes=1000), 25_557_032),
    ],
)
def test_torchvision_resnet_sizes(model, expected):
    assert n_parameters(model()) == expected


def test_torchvision_alexnet_size_and_keys():
    model = AlexNet()
    classifier = 4096 * 1000 + 1000  # classifier.6, the ImageNet head left out
    assert n_parameters(model) + classifier == 61_100_840
    convs = [k for k in model.state_dict() if k.startswith("features") and k.endswith("weight")]
    assert convs == [f"features.{i}.weight" for i in (0, 3, 6, 8, 10)]
    assert {"classifier.1.weight", "classifier.4.weight"} <= set(model.state_dict())


def test_resnet50_uses_torchvision_bottleneck_names():
    keys = set(ResNet(50, width=4).state_dict())
    assert {"layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.bias"} <= keys
    assert ResNet(50, width=4).out_features == 4 * 8 * 4


@pytest.mark.parametrize("name", sorted(BACKBONES))
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 20, 20)])
def test_every_built_in_backbone_runs_on_small_images(name, shape):
    options = {"resnet18": {"width": 4}, "resnet34": {"width": 4}, "resnet50": {"width": 4}}
    options.update({"alexnet_bn": {"width": 0.1, "fc_dim": 8}, "mlp": {"hidden": (8,)}})
    backbone = build_backbone(name, shape, options.get(name)).eval()
    out = backbone(torch.zeros(2, *shape))
    assert out.shape == (2, backbone.out_features)


def test_unknown_backbones_are_clear_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="backbone must be one of"):
        DSBH(backbone="resnet19", **FAST).fit(X, y)
    with pytest.raises(TypeError, match="backbone must be"):
        DSBH(backbone=3, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="fails on a batch of images"):
        DSBH(backbone=nn.Linear(5, 3), **FAST).fit(X, y)


def test_mlp_backbone_reaches_p_at_10_on_digit_features():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, test = order[:1400], order[1400:]
    hasher = DSBH(n_bits=32, backbone="mlp", max_epochs=15, device="cpu", random_state=0)
    hasher.fit(X[train], y[train])
    _, ind = hasher.kneighbors(X[test], n_neighbors=10)
    precision = (y[train][ind] == y[test][:, None]).mean()
    assert precision > 0.85
    assert hasher.channel_mean_.shape == (1, 8, 8)  # standardised per feature


def test_a_users_module_is_used_but_never_changed(digits):
    X, y = digits
    user = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())  # 4-D output: pooled
    before = {k: v.clone() for k, v in user.state_dict().items()}
    hasher = DSBH(n_bits=8, backbone=user, **FAST).fit(X, y)
    assert all(torch.equal(before[k], v) for k, v in user.state_dict().items())
    trained = hasher.module_.backbone.module
    assert trained is not user and not torch.equal(trained[0].weight, user[0].weight)
    assert hasher.module_.heads[0].hash.in_features == 4
    # its own initial weights were kept (not re-initialised): one step of Adam moves them little
    assert torch.allclose(trained[0].weight, user[0].weight, atol=0.1)


def test_built_in_convolutional_backbones_run_channels_last_on_the_cpu():
    """oneDNN's channels-last kernels: faster CPU training (benchmarks/deep_streaming.py)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((32, 3, 16, 16), dtype=np.float32), np.arange(32) % 4
    hasher = DSBH(n_bits=8, channels=(4, 4, 4), hidden=8, **FAST).fit(X, y)
    weight = hasher.module_.backbone.features[0][0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    assert hasher._preprocessing.channels_last
    # a user's module may .view() its feature maps: it keeps the default layout
    user = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert not DSBH(n_bits=8, backbone=user, **FAST).fit(X, y)._preprocessing.channels_last
    mlp = DSBH(n_bits=8, backbone="mlp", **FAST).fit(X.reshape(32, -1), y)
    assert not mlp._preprocessing.channels_last


def test_networks_oneDNN_mistrains_in_channels_last_keep_the_default_layout_on_the_cpu():
    """oneDNN#6035: strided 1x1 convolutions with < 16 input channels corrupt the heap when
    trained channels-last on the CPU (DAHP's small ResNets, issue 25); CUDA is unaffected."""
    from skhash.deep._device import channels_last_on, onednn_unsafe_convolution

    narrow, wide = ResNet(18, 1, small_input=True, width=4), ResNet(18, 1, width=16)
    assert onednn_unsafe_convolution(narrow).in_channels == 4  # layer2's projection shortcut
    assert onednn_unsafe_convolution(wide) is None
    assert not channels_last_on("cpu", narrow) and channels_last_on("cpu", wide)
    assert channels_last_on("cuda", narrow)
    digits8 = load_digits().images[:32]
    hasher = DAHP(n_bits=8, width=4, reduction=4, **FAST).fit(digits8, np.arange(32) % 4)
    assert not hasher._preprocessing.channels_last
    assert all(p.is_contiguous() for p in hasher.module_.parameters())


def test_modules_for_flat_rows_and_factories(digits):
    X, y = digits
    rows = nn.Sequential(nn.Linear(64, 16), nn.ReLU())  # fails on images: gets flat rows
    hasher = DSBH(n_bits=8, backbone=rows, **FAST).fit(X, y)
    assert hasher.module_.backbone.flatten_input and hasher.transform(X).shape == (96, 8)
    built = DSBH(n_bits=8, backbone=lambda shape: nn.Flatten(), **FAST).fit(X, y)
    assert built.module_.heads[0].hash.in_features == 64
    lazy = DSBH(n_bits=8, backbone=MLP(hidden=(16,)), **FAST).fit(X, y)
    again = DSBH(n_bits=8, backbone=MLP(hidden=(16,)), **FAST).fit(X, y)
    np.testing.assert_array_equal(lazy.transform(X), again.transform(X))  # lazy: from the seed


def _save_state(tmp_path, model):
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize(
    "name, source",
    [
        ("resnet18", lambda: ResNet(18, 3, num_classes=1000, width=4)),
        ("resnet34", lambda: ResNet(34, 3, num_classes=1000, width=4)),
    ],
)
def test_pretrained_resnet_weights_load_and_adapt_to_grey(tmp_path, digits, name, source):
    X, y = digits
    model = source()
    torch.nn.init.normal_(model.layer2[0].conv1.weight)
    path = _save_state(tmp_path, model)
    hasher = DAHP(n_bits=8, backbone=name, pretrained=path, width=4, attention_stages=(), **FAST)
    hasher.set_params(max_epochs=0)
    with pytest.warns(Warning, match="max_epochs=0"):
        hasher.fit(X, y)
    loaded = hasher.module_.backbone
    assert torch.equal(loaded.layer2[0].conv1.weight, model.layer2[0].conv1.weight)
    assert loaded.conv1.weight.shape[1] == 1  # the RGB stem summed for grey digits


def test_pretrained_errors_name_the_file(tmp_path, digits):
    X, y = digits
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        DSBH(n_bits=8, pretrained=tmp_path / "nowhere.pth", **FAST).fit(X, y)
    wrong = _save_state(tmp_path, nn.Linear(3, 2))
    with pytest.raises(ValueError, match="weights.pth.*missing key"):
        DSBH(n_bits=8, backbone="alexnet", pretrained=wrong, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="pretrained weights need a backbone"):
        SCAE(n_bits=8, pretrained=wrong, **FAST).fit(X)


def test_own_layout_weights_round_trip_for_small_backbones(tmp_path, digits):
    X, y = digits
    first = DSBH(n_bits=8, channels=(4, 4, 4), hidden=8, **FAST).fit(X, y)
    path = _save_state(tmp_path, first.module_.backbone)
    second = DSBH(
        n_bits=8, channels=(4, 4, 4), hidden=8, pretrained=path, **{**FAST, "random_state": 5}
    )
    with pytest.warns(Warning, match="max_epochs=0"):
        second.set_params(max_epochs=0).fit(X, y)
    for k, v in first.module_.backbone.state_dict().items():
        assert torch.equal(v, second.module_.backbone.state_dict()[k]), k


def test_backbone_learning_rate_and_freezing(digits):
    X, y = digits
    hasher = DPHB(n_bits=8, width=0.1, fc_dim=8, backbone_lr_scale=0.1, **FAST)
    groups = hasher.fit(X, y)._param_groups(hasher.module_)
    assert [g["lr_scale"] for g in groups] == [1.0, 0.1]
    assert len(groups[1]["params"]) == len(list(hasher.module_.backbone.parameters()))
    frozen = DSBH(n_bits=8, channels=(4, 4, 4), hidden=8, freeze_backbone=True, **FAST)
    initial = DSBH(n_bits=8, channels=(4, 4, 4), hidden=8, **{**FAST, "max_epochs": 0})
    with pytest.warns(Warning, match="max_epochs=0"):
        initial.fit(X, y)
    frozen.fit(X, y)
    for k, v in initial.module_.backbone.state_dict().items():  # weights and BN statistics
        assert torch.equal(v, frozen.module_.backbone.state_dict()[k]), k
    assert not torch.equal(
        initial.module_.heads[0].hash.weight, frozen.module_.heads[0].hash.weight
    )


def test_dahp_attention_on_other_backbones(digits):
    X, y = digits
    hasher = DAHP(n_bits=8, backbone="small_cnn", attention_stages=(2, 3), reduction=4, **FAST)
    hasher.fit(X, y)
    assert set(hasher.module_.attention) == {"stage2", "stage3"}
    with pytest.raises(ValueError, match="attention_stages"):
        DAHP(n_bits=8, backbone="mlp", **FAST).fit(X, y)
    assert DAHP(n_bits=8, backbone="mlp", attention_stages=(), **FAST).fit(X, y).transform(
        X
    ).shape == (96, 8)


def test_backbone_embedding_layer(digits):
    X, y = digits
    hasher = DSBH(n_bits=8, channels=(4, 4, 4), hidden=12, **FAST).fit(X, y)
    assert hasher.embed(X, layer="backbone").shape == (96, 12)
    np.testing.assert_array_equal(hasher.embed(X) > 0, hasher.transform(X).astype(bool))
    with pytest.raises(ValueError, match="layer must be one of"):
        hasher.embed(X, layer="logits")


def test_scae_on_another_backbone_is_a_feature_autoencoder(digits):
    X, _ = digits
    hasher = SCAE(n_bits=8, backbone="mlp", **FAST).fit(X)
    assert not any(p.requires_grad for p in hasher.module_.backbone.parameters())
    assert {"reconstruction", "quantization", "balance"} <= set(hasher.history_[-1])
