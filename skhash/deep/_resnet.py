"""ResNet-18/34/50 whose ``state_dict`` keys are torchvision's, written from the architecture.

He et al. (2016), "Deep residual learning for image recognition", CVPR: a 7x7 stride-2 stem
(``conv1``, ``bn1``, ReLU, 3x3 stride-2 max-pool), four stages ``layer1`` .. ``layer4`` (64,
128, 256, 512 channels; stages 2-4 start with stride 2 and a 1x1 ``downsample`` projection),
adaptive average pooling to 1x1 and a linear ``fc``. ResNet-18 and -34 use basic blocks (two
3x3 convolutions) in (2, 2, 2, 2) and (3, 4, 6, 3) stages; ResNet-50 uses bottleneck blocks
(1x1, 3x3 with the stride, 1x1 with four times the channels: torchvision's "v1.5") in
(3, 4, 6, 3) stages. Module names follow torchvision's ``resnet18/34/50`` so an ImageNet
weights file saved from torchvision (``torch.save(resnet50(weights=...).state_dict(), path)``)
loads with ``pretrained=path``; torchvision itself is not needed.

Adaptive pooling makes any input size work. For small images the ``small_input`` stem is a
3x3 stride-1 ``conv1`` without the max-pool (the CIFAR variant of He et al., Sec. 4.2): the key
names stay the same, only ``conv1.weight`` changes shape, which the weights loader adapts.
"""

import torch
from torch import nn

from ._backbones import StagedBackbone

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "ResNet18"]

_LAYOUTS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}


def _conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


def _projection(c_in, c_out, stride):
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch-norm and an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, c_in, width, stride=1):
        super().__init__()
        self.conv1 = _conv3x3(c_in, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = _projection(c_in, width, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)

    def last_bn(self):
        return self.bn2


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand to ``4 * width``, with a shortcut."""

    expansion = 4

    def __init__(self, c_in, width, stride=1):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(c_in, c_out, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)

    def last_bn(self):
        return self.bn3


class ResNet(StagedBackbone):
    """ResNet-18, -34 or -50 with torchvision's module names.

    Parameters
    ----------
    depth : {18, 34, 50}
    in_channels : int, default=3
    num_classes : int or None, default=None
        Size of the ``fc`` head; None leaves it out (``fc`` is then an identity without
        parameters and :meth:`forward` returns the pooled features).
    small_input : bool, default=False
        3x3 stride-1 ``conv1`` and no max-pool, for images of a few dozen pixels.
    width : int, default=64
        Channels of ``layer1``'s blocks (doubled at every stage); 64 is the standard network.
        Smaller widths keep the key names (tests use them) but cannot load ImageNet weights.

    Attributes
    ----------
    out_features : int
        Channels of ``layer4`` (512 for ResNet-18/34, 2048 for ResNet-50 at ``width=64``).
    stage_channels : tuple of int
        Channels of ``layer1`` .. ``layer4``.
    """

    pretrained_ignored = ("fc.",)
    first_conv = "conv1.weight"

    def __init__(self, depth=18, in_channels=3, num_classes=None, small_input=False, width=64):
        super().__init__()
        if depth not in _LAYOUTS:
            raise ValueError(f"depth must be one of {sorted(_LAYOUTS)}; got {depth!r}.")
        kind, counts = _LAYOUTS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        w = int(width)
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, w, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        c_in, channels = w, []
        for i, n_blocks in enumerate(counts, start=1):
            width_i = w * 2 ** (i - 1)
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 1 and j == 0) else 1
                blocks.append(block(c_in, width_i, stride))
                c_in = width_i * block.expansion
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            channels.append(c_in)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.stage_channels = tuple(channels)
        self.out_features = c_in
        self.fc = nn.Identity() if num_classes is None else nn.Linear(c_in, num_classes)

    def stem(self, x):
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stages(self):
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def head(self, x):
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def forward_features(self, x):
        """The ``layer4`` feature map, ``(n, out_features, h, w)``."""
        return self.forward_levels(x)[-1]

    def reset_parameters(self, generator):
        """He-normal (fan-out) convolutions, BN to 1/0, the last BN of every residual branch
        to 0 (Goyal et al. 2017, so each block starts as the identity), PyTorch's default for
        ``fc``; all draws from ``generator``."""
        super().reset_parameters(generator)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
            elif isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.zeros_(m.last_bn().weight)


def ResNet18(in_channels=3, num_classes=1000, small_input=False, width=64):  # noqa: N802
    """ResNet-18 (torchvision's ``resnet18`` layout); see :class:`ResNet`."""
    return ResNet(18, in_channels, num_classes=num_classes, small_input=small_input, width=width)
