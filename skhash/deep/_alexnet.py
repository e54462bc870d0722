"""AlexNet with torchvision's module names (``features``, ``avgpool``, ``classifier``).

Krizhevsky, Sutskever & Hinton (2012), in the single-tower form of torchvision's ``alexnet``:
five convolutions (64, 192, 384, 256, 256 channels; 11x11 stride 4, then 5x5, then 3x3) with
3x3 stride-2 max-pooling after the first, second and fifth, adaptive average pooling to 6x6,
and two 4096-wide fully connected layers with dropout. The ImageNet classifier
(``classifier.6``) is left out: the features are the second hidden layer's. An ImageNet
weights file saved from torchvision loads with ``pretrained=path``.

Pooling never shrinks a side below one pixel, so small images pass; ``small_input`` replaces
the 11x11 stride-4 stem by a 3x3 stride-1 one (same key, adapted kernel when loading weights).
"""

import torch
from torch import nn

from ._backbones import GeneratorDropout, SafeMaxPool, StagedBackbone

__all__ = ["AlexNet"]


class AlexNet(StagedBackbone):
    """AlexNet features (torchvision layout), 4096-d output.

    Parameters
    ----------
    in_channels : int, default=3
    small_input : bool, default=False
        3x3 stride-1 first convolution, for images of a few dozen pixels.
    dropout : float, default=0.5

    Attributes
    ----------
    out_features : int
        4096.
    """

    pretrained_ignored = ("classifier.6.",)
    first_conv = "features.0.weight"

    def __init__(self, in_channels=3, small_input=False, dropout=0.5):
        super().__init__()
        stem = (3, 1, 1) if small_input else (11, 4, 2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, stem[0], stem[1], stem[2]),
            nn.ReLU(inplace=True),
            SafeMaxPool(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(inplace=True),
            SafeMaxPool(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            SafeMaxPool(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            GeneratorDropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            GeneratorDropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
        )
        self.stage_channels = (64, 192, 256)
        self.out_features = 4096

    def stages(self):
        return [self.features[0:3], self.features[3:6], self.features[6:13]]

    def head(self, x):
        return self.classifier(torch.flatten(self.avgpool(x), 1))
