"""Backbones: the networks whose pooled features feed the hash layers.

A backbone maps a batch of images ``(n, C, H, W)`` to features ``(n, out_features)``. The
``backbone`` parameter of every deep hasher takes one of:

- a built-in name (:data:`BACKBONES`): ``"small_cnn"`` (DSBH's three convolution blocks),
  ``"alexnet_bn"`` (DPHB's AlexNet with batch-norm), ``"alexnet"``, ``"resnet18"``,
  ``"resnet34"``, ``"resnet50"`` (torchvision's layouts, so ImageNet weights load from a local
  file), ``"mlp"`` (fully connected, for feature vectors such as precomputed embeddings) and
  ``"perceptual"`` (pHash's DCT of the luminance, then a learnt layer: CIBHash's default);
- any :class:`torch.nn.Module`: it is deep-copied at fit (the user's module is never changed
  or re-initialised, unless it has lazy layers and so no weights yet), its output flattened;
  a 4-D output is average-pooled first. A module that cannot take ``(n, C, H, W)`` images is
  given flat rows ``(n, C * H * W)``;
- a callable ``f(image_shape) -> nn.Module``, for modules that need the input shape.

Convolutional built-ins are *staged*: a stem, a few stages, and a head that pools the last
stage, so hashers can tap several levels (attention, multi-level codes). Every layer accepts
inputs down to ``1 x 1``: pooling never shrinks a side below one pixel. Dropout draws its
masks from a :class:`torch.Generator` set by the trainer, and :func:`init_weights`
initialises from one, so no network here touches torch's global random state once built.
"""

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parameter import is_lazy

__all__ = [
    "BACKBONES",
    "MLP",
    "AlexNetBN",
    "GeneratorDropout",
    "ModuleBackbone",
    "SafeMaxPool",
    "SmallCNN",
    "StagedBackbone",
    "build_backbone",
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
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
        return x * keep / (1 - self.p)


def set_generator(module, generator):
    """Give every :class:`GeneratorDropout` in ``module`` this generator (None to clear)."""
    for m in module.modules():
        if isinstance(m, GeneratorDropout):
            m.generator = generator


def init_weights(module, generator, *, skip=None):
    """(Re)initialise convolutions and linear layers from ``generator``, as PyTorch's default
    (Kaiming-uniform with ``a = sqrt(5)`` weights, uniform fan-in biases); batch-norm to 1/0.
    Modules inside ``skip`` (e.g. a user's backbone) are left as they are."""
    skipped = set() if skip is None else {id(m) for m in skip.modules()}
    for m in module.modules():
        if id(m) in skipped:
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def conv_block(c_in, c_out, kernel=3, stride=1, padding=1, pool=True):
    """3x3 convolution (no bias), batch-norm, ReLU and, when ``pool``, 2x2 max-pooling."""
    layers = [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(SafeMaxPool(2))
    return nn.Sequential(*layers)


class StagedBackbone(nn.Module):
    """A convolutional backbone as ``stem``, ``stages`` and ``head``.

    Subclasses set ``stage_channels`` (output channels of each stage) and ``out_features``
    and implement :meth:`stages` (the stage modules, in order), :meth:`head` (last feature
    map to a feature vector) and, when there is one, :meth:`stem`. Weights files in the
    subclass's own key layout load with ``pretrained``; ``pretrained_ignored`` lists the key
    prefixes of a file that are not used (an ImageNet classifier), ``first_conv`` the key of
    the stem kernel, adapted to other channel counts and kernel sizes.
    """

    input_kind = "image"
    channels_last_ok = True  # written for channels-last tensors (no .view on feature maps)
    pretrained_ignored = ()
    first_conv = None

    def stem(self, x):
        return x

    def stages(self):
        raise NotImplementedError

    def head(self, x):
        raise NotImplementedError

    def forward_levels(self, x, stage_hook=None):
        """The output map of every stage, ``[(n, stage_channels[i], h_i, w_i), ...]``, each
        rewritten by ``stage_hook(i, map)`` when given."""
        maps = []
        x = self.stem(x)
        for i, stage in enumerate(self.stages(), start=1):
            x = stage(x)
            if stage_hook is not None:
                x = stage_hook(i, x)
            maps.append(x)
        return maps

    def forward(self, x, stage_hook=None):
        """Pooled features of ``x``; ``stage_hook(i, map) -> map``, when given, rewrites the
        output of stage ``i`` (1-based) before the next stage reads it (e.g. attention)."""
        x = self.stem(x)
        for i, stage in enumerate(self.stages(), start=1):
            x = stage(x)
            if stage_hook is not None:
                x = stage_hook(i, x)
        return self.head(x)

    def reset_parameters(self, generator):
        """Initialise from ``generator`` (PyTorch's defaults; subclasses refine)."""
        init_weights(self, generator)


class SmallCNN(StagedBackbone):
    """Three convolution blocks (3x3 conv, batch-norm, ReLU, 2x2 max-pool), then a fully
    connected layer: the backbone of DSBH (``"small_cnn"``).

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
        if len(channels) != 3 or not all(int(c) == c and c >= 1 for c in channels):
            raise ValueError(f"channels must hold 3 positive ints; got {channels!r}.")
        c1, c2, c3 = (int(c) for c in channels)
        self.features = nn.Sequential(
            conv_block(in_channels, c1), conv_block(c1, c2), conv_block(c2, c3)
        )
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            GeneratorDropout(dropout),
        )
        self.stage_channels = (c1, c2, c3)
        self.out_features = hidden

    def stages(self):
        return list(self.features)

    def head(self, x):
        return self.fc(self.pool(x))


class AlexNetBN(StagedBackbone):
    """AlexNet (5 convolutions, 2 hidden fully connected layers) with batch-norm after every
    convolution, adapted to small inputs: the backbone of DPHB (``"alexnet_bn"``).

    For images of at least 64 pixels a side the first layer is the original 11x11 stride-4
    convolution and the head pools to 6x6; below that it is a 3x3 stride-1 convolution
    and the head pools to ``small_pool`` (2) per side, so 8x8 digits and 28x28 MNIST keep
    their detail. Max-pooling follows convolutions 1, 2 and 5 as in Krizhevsky et al. (2012);
    batch-norm makes it train from scratch quickly. Stages: convolution 1, convolution 2,
    convolutions 3-5.

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
            conv_block(in_channels, c[0], *stem),
            conv_block(c[0], c[1], 5 if large else 3, 1, 2 if large else 1),
            nn.Sequential(
                conv_block(c[1], c[2], pool=False),
                conv_block(c[2], c[3], pool=False),
                conv_block(c[3], c[4]),
            ),
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
        self.stage_channels = (c[0], c[1], c[4])
        self.out_features = fc_dim

    def stages(self):
        return list(self.features)

    def head(self, x):
        return self.fc(self.pool(x))


class MLP(nn.Module):
    """Fully connected backbone for feature vectors (``"mlp"``): flatten, then for each
    hidden width a linear layer, batch-norm, ReLU and dropout.

    Inputs are standardised per feature (not per channel) when this is the backbone.

    Parameters
    ----------
    in_features : int or None, default=None
        Size of the input vectors; None infers it at the first batch (lazy).
    hidden : tuple of int, default=(512, 512)
        Widths of the hidden layers; the last is the output size.
    dropout : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> from skhash.deep import MLP
    >>> MLP(64, hidden=(32, 16))(torch.zeros(4, 64)).shape
    torch.Size([4, 16])
    """

    input_kind = "vector"

    def __init__(self, in_features=None, hidden=(512, 512), dropout=0.0):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must hold positive widths; got {hidden!r}.")
        layers = [nn.Flatten()]
        for i, width in enumerate(hidden):
            if i == 0 and in_features is None:
                layers.append(nn.LazyLinear(width))
            else:
                layers.append(nn.Linear(in_features if i == 0 else hidden[i - 1], width))
            layers += [nn.BatchNorm1d(width), nn.ReLU(inplace=True), GeneratorDropout(dropout)]
        self.layers = nn.Sequential(*layers)
        self.out_features = hidden[-1]

    def forward(self, x):
        return self.layers(x)


class ModuleBackbone(nn.Module):
    """A user's module as a backbone: its output flattened (average-pooled first if 4-D).

    ``flatten_input`` feeds it ``(n, C * H * W)`` rows instead of images. ``out_features``
    and whether its output is a feature map are found by running it once on zeros.
    """

    input_kind = "image"

    def __init__(self, module, image_shape):
        super().__init__()
        self.module = module
        self.flatten_input = False
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = self._probe(image_shape)
        finally:
            module.train(was_training)
        self.map_output = out.ndim == 4
        self.stage_channels = (out.shape[1],) if self.map_output else ()
        self.out_features = int(math.prod(out.shape[1:2] if self.map_output else out.shape[1:]))
        if self.flatten_input:
            self.input_kind = "vector"

    def _probe(self, image_shape):
        x = torch.zeros(2, *image_shape)
        try:
            return self.module(x)
        except Exception as image_error:
            try:
                out = self.module(x.flatten(1))
            except Exception:
                raise ValueError(
                    f"The backbone module {type(self.module).__name__} fails on a batch of "
                    f"images of shape {tuple(x.shape)} (and on flat rows): {image_error}"
                ) from image_error
            self.flatten_input = True
            return out

    def forward_levels(self, x, stage_hook=None):
        out = self.module(x.flatten(1) if self.flatten_input else x)
        if not self.map_output:
            return []
        return [out if stage_hook is None else stage_hook(1, out)]

    def head(self, x):
        if x.ndim == 4:
            x = F.adaptive_avg_pool2d(x, 1)
        return torch.flatten(x, 1)

    def forward(self, x, stage_hook=None):
        out = self.module(x.flatten(1) if self.flatten_input else x)
        if stage_hook is not None and self.map_output:
            out = stage_hook(1, out)
        return self.head(out)


def _small_cnn(image_shape, channels=(32, 64, 128), hidden=256, dropout=0.0):
    return SmallCNN(image_shape[0], channels=channels, hidden=hidden, dropout=dropout)


def _alexnet_bn(image_shape, width=1.0, fc_dim=4096, dropout=0.5):
    return AlexNetBN(image_shape[0], min(image_shape[1:]), width, fc_dim, dropout)


def _alexnet(image_shape, small_input="auto", dropout=0.5):
    from ._alexnet import AlexNet

    small = min(image_shape[1:]) < 64 if small_input == "auto" else bool(small_input)
    return AlexNet(image_shape[0], small_input=small, dropout=dropout)


def _resnet(depth):
    def build(image_shape, small_input="auto", width=64):
        from ._resnet import ResNet

        small = min(image_shape[1:]) < 16 if small_input == "auto" else bool(small_input)
        return ResNet(depth, image_shape[0], small_input=small, width=width)

    return build


def _mlp(image_shape, hidden=(512, 512), dropout=0.0):
    return MLP(math.prod(image_shape), hidden=hidden, dropout=dropout)


def _perceptual(image_shape, size=32, n_frequencies=16, hidden=512):
    from ._perceptual_features import PerceptualFeatures

    return PerceptualFeatures(size=size, n_frequencies=n_frequencies, hidden=hidden)


#: Built-in backbones by name: ``builder(image_shape, **options) -> module``.
BACKBONES = {
    "small_cnn": _small_cnn,
    "alexnet_bn": _alexnet_bn,
    "alexnet": _alexnet,
    "resnet18": _resnet(18),
    "resnet34": _resnet(34),
    "resnet50": _resnet(50),
    "mlp": _mlp,
    "perceptual": _perceptual,  # PerceptualFeatures: pHash's DCT, then a learnt layer
}


def check_backbone_spec(spec):
    """Raise a clear error unless ``spec`` is a built-in name, a module or a callable."""
    if isinstance(spec, str):
        if spec not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}; got {spec!r}.")
    elif not isinstance(spec, nn.Module) and not callable(spec):
        raise TypeError(
            "backbone must be a built-in name, a torch.nn.Module or a callable "
            f"f(image_shape) -> Module; got {type(spec).__name__}."
        )


def build_backbone(spec, image_shape, options=None):
    """The backbone ``spec`` names, for ``(C, H, W)`` images, on the CPU.

    Parameters
    ----------
    spec : str, torch.nn.Module or callable
        See the module docstring.
    image_shape : tuple of 3 ints
    options : dict, default=None
        Keyword options of a built-in builder (a hasher passes those of its own default
        backbone, e.g. DSBH's ``channels``); ignored for modules and callables.

    Returns
    -------
    backbone : torch.nn.Module
        With ``out_features``, ``input_kind`` (``"image"`` or ``"vector"``) and
        ``builtin`` (whether skhash may initialise its weights).
    """
    check_backbone_spec(spec)
    if isinstance(spec, str):
        with torch.random.fork_rng(devices=[]):  # constructors draw from the global RNG
            net = BACKBONES[spec](tuple(image_shape), **(options or {}))
        net.builtin = True
        return net
    if isinstance(spec, nn.Module):
        module = copy.deepcopy(spec)
    else:
        with torch.random.fork_rng(devices=[]):
            module = spec(tuple(image_shape))
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"The backbone callable returned {type(module).__name__}, not a torch.nn.Module."
            )
    # A module with lazy layers has never been initialised: skhash initialises it from the
    # fit's generator. Any other user module keeps its weights (they may be pretrained).
    lazy = any(is_lazy(p) for p in module.parameters())
    with torch.random.fork_rng(devices=[]):  # running it once materialises lazy layers
        if isinstance(module, (StagedBackbone, MLP)):  # a built-in class built by the user
            net = module
            if lazy:
                with torch.no_grad():
                    net.eval()(torch.zeros(2, *image_shape))
                net.train()
        else:
            net = ModuleBackbone(module, tuple(image_shape))
    net.builtin = lazy
    return net
