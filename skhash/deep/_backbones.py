"""Convolutional backbones for small and large images, with generator-driven randomness.

Every layer of these networks accepts inputs from ``1 x 1`` up to ``224 x 224``: pooling
shrinks a side only while it is at least 2 pixels, and the head uses adaptive average
pooling. Dropout draws its masks from a :class:`torch.Generator` (set by the trainer), and
:func:`init_weights` initialises from one, so no network here touches torch's global random
state once built.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AlexNet",
    "GeneratorDropout",
    "SafeMaxPool",
    "SmallCNN",
    "init_weights",
    "set_generator",
]


class SafeMaxPool(nn.Module):
    """Max pooling that never shrinks a side below one pixel (kernel ``min(k, side)``)."""

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size

    def forward(self, x):
        h, w = x.shape[-2:]
        kh, kw = min(self.kernel_size, h), min(self.kernel_size, w)
        sh, sw = min(self.stride, kh), min(self.stride, kw)
        return F.max_pool2d(x, (kh, kw), (sh, sw))


class GeneratorDropout(nn.Module):
    """Dropout whose mask is drawn from ``self.generator`` (global RNG when None)."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        g = self.generator
        keep = torch.rand(x.shape, generator=g, device=x.device) >= self.p
        return x * keep / (1 - self.p)


def set_generator(module, generator):
    """Give every :class:`GeneratorDropout` in ``module`` this generator (None to clear)."""
    for m in module.modules():
        if isinstance(m, GeneratorDropout):
            m.generator = generator


def init_weights(module, generator):
    """(Re)initialise convolutions and linear layers from ``generator``, as PyTorch's default
    (Kaiming-uniform with ``a = sqrt(5)`` weights, uniform fan-in biases); batch-norm to 1/0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _conv_block(c_in, c_out, kernel=3, stride=1, padding=1, pool=True):
    layers = [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(SafeMaxPool(2))
    return layers


class SmallCNN(nn.Module):
    """Three convolution blocks (3x3 conv, batch-norm, ReLU, 2x2 max-pool), then a fully
    connected layer: the backbone of DSBH.

    Parameters
    ----------
    in_channels : int
    channels : tuple of 3 ints, default=(32, 64, 128)
    hidden : int, default=256
        Width of the fully connected feature layer (the output size).
    pool_size : int, default=2
        Side of the adaptive average pooling before the fully connected layer.
    dropout : float, default=0.0
    """

    def __init__(self, in_channels, channels=(32, 64, 128), hidden=256, pool_size=2, dropout=0.0):
        super().__init__()
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            *_conv_block(in_channels, c1), *_conv_block(c1, c2), *_conv_block(c2, c3)
        )
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            GeneratorDropout(dropout),
        )
        self.out_features = hidden

    def forward(self, x):
        return self.fc(self.pool(self.features(x)))


class AlexNet(nn.Module):
    """AlexNet (5 convolutions, 3 fully connected layers) adapted to small inputs: the
    backbone of DPHB.

    For images of at least 64 pixels a side the first layer is the original 11x11 stride-4
    convolution and the head pools to 6x6; below that it is a 3x3 stride-1 convolution
    and the head pools to ``small_pool`` (2) per side, so 8x8 digits and 28x28 MNIST keep
    their detail. Max-pooling follows convolutions 1, 2 and 5 as in Krizhevsky et al. (2012);
    batch-norm is added after each convolution so it trains from scratch quickly.

    Parameters
    ----------
    in_channels : int
    input_size : int
        The smaller side of the input images (picks the stem).
    width : float, default=1.0
        Multiplier of the channel counts (64, 192, 384, 256, 256).
    fc_dim : int, default=4096
        Width of the two hidden fully connected layers (the output size).
    dropout : float, default=0.5
    small_pool : int, default=2
    """

    def __init__(self, in_channels, input_size, width=1.0, fc_dim=4096, dropout=0.5, small_pool=2):
        super().__init__()
        c = [max(4, int(round(k * width))) for k in (64, 192, 384, 256, 256)]
        large = input_size >= 64
        stem = (11, 4, 2) if large else (3, 1, 1)
        self.features = nn.Sequential(
            *_conv_block(in_channels, c[0], *stem),
            *_conv_block(c[0], c[1], 5 if large else 3, 1, 2 if large else 1),
            *_conv_block(c[1], c[2], pool=False),
            *_conv_block(c[2], c[3], pool=False),
            *_conv_block(c[3], c[4]),
        )
        pool = 6 if large else small_pool
        self.pool = nn.AdaptiveAvgPool2d(pool)
        self.fc = nn.Sequential(
            nn.Flatten(),
            GeneratorDropout(dropout),
            nn.Linear(c[4] * pool * pool, fc_dim),
            nn.ReLU(inplace=True),
            GeneratorDropout(dropout),
            nn.Linear(fc_dim, fc_dim),
            nn.ReLU(inplace=True),
        )
        self.out_features = fc_dim

    def forward(self, x):
        return self.fc(self.pool(self.features(x)))
