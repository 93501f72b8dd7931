"""Patch discriminator (pix2pix-style) used to sharpen decoders, and re-used as a fake detector.

A patch discriminator scores overlapping receptive fields rather than the whole face, which is
why it doubles as a detector of local blending and up-sampling artifacts.
"""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """Strided conv stack ending in a 1-channel logit map (one logit per patch).

    Spectral norm keeps GAN training stable at the small batch sizes the CPU affords.
    """

    def __init__(self, in_channels: int = 3, width: int = 64, n_layers: int = 3, spectral: bool = True) -> None:
        super().__init__()
        norm = nn.utils.spectral_norm if spectral else (lambda m: m)
        layers: list[nn.Module] = [norm(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for i in range(1, n_layers):
            nxt = min(width * 2**i, width * 8)
            layers += [norm(nn.Conv2d(ch, nxt, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            ch = nxt
        layers += [norm(nn.Conv2d(ch, ch, 3, 1, 1)), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(ch, 1, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every activation map (after each LeakyReLU), then the logit map last.

        Why: feature matching compares a fake's activations with its own real crop's, layer by
        layer, which gives the decoder a learned perceptual target (edges, pores, specular
        texture) instead of the single real/fake logit that a small discriminator saturates.
        """
        out: list[torch.Tensor] = []
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                out.append(x)
        out.append(x)
        return out
