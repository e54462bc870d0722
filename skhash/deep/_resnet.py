"""ResNet-18 whose ``state_dict`` keys are torchvision's, written from the architecture.

He et al. (2016), "Deep residual learning for image recognition", CVPR: a 7x7 stride-2 stem
(``conv1``, ``bn1``, ReLU, 3x3 stride-2 max-pool), four stages ``layer1`` .. ``layer4`` of
two basic blocks each (64, 128, 256, 512 channels; stages 2-4 start with stride 2 and a
1x1 ``downsample`` projection), adaptive average pooling to 1x1 and a linear ``fc``. Module
names follow torchvision's ``resnet18`` so an ImageNet weights file saved from torchvision
(``torch.save(resnet18(weights=...).state_dict(), path)``) loads with :func:`load_pretrained`;
torchvision itself is not needed.

Adaptive pooling makes any input from 8x8 to 224x224 (and beyond) work. For small images the
``small_input`` stem is a 3x3 stride-1 ``conv1`` without the max-pool (the CIFAR variant of
He et al., Sec. 4.2): the key names stay the same, only ``conv1.weight`` changes shape, which
:func:`load_pretrained` adapts.
"""

import os

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "ResNet18", "load_pretrained", "resnet_init"]


def _conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch-norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = _conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 with torchvision's module names.

    Parameters
    ----------
    in_channels : int, default=3
    num_classes : int or None, default=1000
        Size of the ``fc`` head; None leaves it out (``fc`` is then an identity without
        parameters and :meth:`forward` returns the pooled 512-d features).
    small_input : bool, default=False
        3x3 stride-1 ``conv1`` and no max-pool, for images of a few dozen pixels.
    width : int, default=64
        Channels of ``layer1`` (doubled at every stage); 64 is ResNet-18. Smaller widths keep
        the key names (tests use them) but cannot load ImageNet weights.

    Attributes
    ----------
    out_features : int
        Channels of ``layer4`` (512 at ``width=64``).
    """

    def __init__(self, in_channels=3, num_classes=1000, small_input=False, width=64):
        super().__init__()
        w = int(width)
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, w, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        widths = [w, 2 * w, 4 * w, 8 * w]
        c_in = w
        for i, c_out in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            layer = nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out))
            setattr(self, f"layer{i}", layer)
            c_in = c_out
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_features = c_in
        self.fc = nn.Identity() if num_classes is None else nn.Linear(c_in, num_classes)

    def forward_features(self, x):
        """The ``layer4`` feature map, ``(n, out_features, h, w)``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.forward_features(x)), 1))


def resnet_init(model, generator):
    """He-normal (fan-out) convolutions, BN to 1/0 and the last BN of every residual branch to
    0 (Goyal et al. 2017), so each block starts as the identity; all draws from ``generator``."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(
                m.weight, mode="fan_out", nonlinearity="relu", generator=generator
            )
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in model.modules():
        if isinstance(m, BasicBlock):
            nn.init.zeros_(m.bn2.weight)
    return model


def _read_state_dict(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"pretrained must be None or a path to a weights file; got {path!r}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Pretrained weights file {os.fspath(path)!r} does not exist. Save torchvision's "
            "ResNet-18 weights once on a machine that has them, e.g. "
            "torch.save(torchvision.models.resnet18(weights='IMAGENET1K_V1').state_dict(), "
            "'resnet18.pth'), and pass that path."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"Could not read {os.fspath(path)!r} as a PyTorch state_dict file: {exc}"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(
            f"{os.fspath(path)!r} does not hold a state_dict (a dict of tensors); got "
            f"{type(state).__name__}."
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def _adapt_conv1(weight, shape):
    """Fit a pretrained stem kernel to another channel count and kernel size."""
    c_out, c_in, kh, kw = shape
    if weight.shape[1] != c_in:
        if c_in == 1:  # grey input: a grey image is R = G = B, so the RGB kernels add up
            weight = weight.sum(dim=1, keepdim=True)
        elif weight.shape[1] == 1:
            weight = weight.repeat(1, c_in, 1, 1) / c_in
        else:
            raise ValueError(
                f"conv1.weight has {weight.shape[1]} input channels in the file but the model "
                f"takes {c_in}; only 1 <-> 3 channels are adapted."
            )
    if tuple(weight.shape[-2:]) != (kh, kw):  # e.g. the 7x7 ImageNet stem into a 3x3 one
        total = weight.sum(dim=(2, 3), keepdim=True)
        weight = F.interpolate(
            weight, size=(kh, kw), mode="bilinear", antialias=True, align_corners=False
        )
        new_total = weight.sum(dim=(2, 3), keepdim=True)
        scale = torch.where(new_total.abs() > 1e-12, total / new_total, torch.ones_like(total))
        weight = weight * scale
    return weight


def load_pretrained(model, path):
    """Load a torchvision-format ResNet-18 ``state_dict`` file into ``model``.

    Every key except ``fc.*`` (the ImageNet classifier, never used for hashing) must be
    present and of the model's shape; ``conv1.weight`` is adapted to 1-channel input (the RGB
    kernels summed) and to the 3x3 small-input stem (the 7x7 kernel resized, its sum kept).

    Parameters
    ----------
    model : ResNet18
    path : str or path-like
        A file written by ``torch.save(state_dict)`` (a checkpoint dict with a
        ``"state_dict"`` entry and ``module.`` prefixes of DataParallel are accepted).

    Returns
    -------
    model : ResNet18
        The same model, with the weights loaded.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When the file is not a state_dict, or its keys or shapes do not match ResNet-18.
    """
    state = _read_state_dict(path)
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    given = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"{os.fspath(path)!r} is not a torchvision ResNet-18 state_dict: "
            f"{len(missing)} missing key(s) {missing[:5]}, {len(unexpected)} unexpected "
            f"key(s) {unexpected[:5]}."
        )
    given["conv1.weight"] = _adapt_conv1(given["conv1.weight"], own["conv1.weight"].shape)
    wrong = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in given.items()
        if v.shape != own[k].shape
    ]
    if wrong:
        raise ValueError(
            f"Shapes in {os.fspath(path)!r} do not match the model (is width=64?): "
            + "; ".join(wrong[:5])
        )
    full = model.state_dict()
    full.update({k: v.to(full[k].dtype) for k, v in given.items()})
    model.load_state_dict(full)
    return model
