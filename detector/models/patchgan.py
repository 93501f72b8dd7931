"""The generator's patch discriminator re-used as a detector.

The discriminator was built to spot decoder artifacts patch by patch, which is exactly the cue a
face-swap detector needs; averaging the patch logits turns its logit map into one logit per image
while keeping every patch's vote equal (so Grad-CAM on its last conv shows which patches voted).
"""

from __future__ import annotations

import torch
from torch import nn

from detector.registry import register_detector
from generator.discriminator import PatchDiscriminator


class PatchGANDetector(nn.Module):
    def __init__(self, width: int = 32, n_layers: int = 3, spectral: bool = False) -> None:
        super().__init__()
        self.disc = PatchDiscriminator(in_channels=3, width=width, n_layers=n_layers, spectral=spectral)

    @classmethod
    def from_discriminator(cls, disc: PatchDiscriminator) -> PatchGANDetector:
        """Wrap an already trained discriminator (e.g. from a swap run) to fine-tune or evaluate it."""
        det = cls.__new__(cls)
        nn.Module.__init__(det)
        det.disc = disc
        return det

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.disc(x).mean(dim=(1, 2, 3))


@register_detector
def patchgan(width: int = 32, n_layers: int = 3, spectral: bool = False) -> nn.Module:
    """Re-uses the swap generator's PatchDiscriminator as a detector (mean of patch logits); can start from a trained one."""
    return PatchGANDetector(width=width, n_layers=n_layers, spectral=spectral)
