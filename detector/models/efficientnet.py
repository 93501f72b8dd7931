"""Compact EfficientNet-style backbone from torchvision, built from scratch (``weights=None``).

MobileNetV3-Small uses the same ingredients as EfficientNet (inverted-residual MBConv blocks,
squeeze-excitation, NAS-tuned widths) at a fraction of the compute. It is the one torchvision
backbone we tried that stays within the 200 crops/s budget on the 2-core CPU we target (speeds of
EfficientNet-B0, ResNet-18 and MobileNetV3-Small: docs/experiments.md). Nothing is downloaded:
weights come from our own training only.
"""

from __future__ import annotations

import torch
from torch import nn

from detector.registry import IMAGENET_MEAN, IMAGENET_STD, register_detector


class _SqueezeLogit(nn.Module):
    """torchvision classifiers return (B, 1); detectors return (B,) so every family agrees."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    @property
    def features(self) -> nn.Module:
        """The convolutional trunk, so `detector pretrain` and `detector train --init` can reach it as
        they reach Meso-4's (a property, not a second registration: state-dict keys stay ``net.*``)."""
        return self.net.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@register_detector(mean=IMAGENET_MEAN, std=IMAGENET_STD)
def mobilenet_v3_small(width_mult: float = 1.0, dropout: float = 0.2) -> nn.Module:
    """Larger-capacity backbone within the CPU budget: torchvision MobileNetV3-Small (weights=None), one-logit head.

    ``width_mult=0.5`` roughly halves the cost.
    """
    # torchvision is imported here, not at module level: importing it costs seconds of scan start-up
    # even when the shipped detector is another family.
    from torchvision.models import mobilenet_v3_small as tv_mobilenet_v3_small

    return _SqueezeLogit(
        tv_mobilenet_v3_small(weights=None, num_classes=1, width_mult=width_mult, dropout=dropout)
    )
