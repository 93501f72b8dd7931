"""SeamNet: learnt texture energies and colour, averaged over rings around the face's own hull.

Why: our RGB CNNs rank fakes above reals *within* a video but carry a per-video offset (studio news
clips score low, phone clips high, real or fake). The hand-made edge analyzer (forensics.edges),
which compares log-ratios of gradient, Laplacian and noise energy and normalised colour across
distance rings of the landmark hull, compares the face only with its own surroundings, and it
ranked the same videos better (docs/experiments.md). SeamNet keeps that design and learns the filters:

1. Two convolutions without bias, the first with zero-sum kernels, ReLU between them: responses
   ignore a brightness offset and scale linearly with contrast.
2. Local energy of each response in log, minus that channel's mean over the crop, and colour
   relative to the crop's mean and spread: a global change of contrast, sharpness or noise level
   multiplies an energy everywhere alike, so it cancels.
3. Means of those maps over rings 0-3, 3-7 and 7-14 px inside and outside the hull boundary (at
   128 px, as forensics.edges), plus the inner face and the rest, in four angular sectors; a small
   MLP on the ring means gives the logit.

Input: RGB plus the hull mask (``in_channels=4``); the mask only says where to average, the
filters never see it (a CNN that read the hull as a plane generalised worse).

It did not beat the shipped meso4_contrast, so it is not the default; its measured accuracy,
per-identity behaviour and speed are in docs/experiments.md ("SeamNet").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from detector.registry import register_detector

RING_EDGES_PX = (3.0, 7.0, 14.0)  # at a 128 px crop, scaled with the input size
N_RINGS = 2 * len(RING_EDGES_PX) + 2
N_SECTORS = 4


class ZeroSumConv2d(nn.Conv2d):
    """A convolution whose kernels each sum to zero (high-pass), so a constant image gives zero.

    Padding replicates the border: zero padding would put an edge around the crop whose strength
    depends on the image's brightness."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)
        ph, pw = self.padding if isinstance(self.padding, tuple) else (self.padding, self.padding)
        x = F.pad(x, (pw, pw, ph, ph), mode="replicate")
        return F.conv2d(x, w, None, self.stride, 0, self.dilation, self.groups)


def _dilate(m: torch.Tensor, r: int) -> torch.Tensor:
    """Square max-filter of radius r, separably (rows then columns)."""
    k = 2 * r + 1
    m = F.max_pool2d(m, (1, k), 1, (0, r))
    return F.max_pool2d(m, (k, 1), 1, (r, 0))


def hull_regions(mask01: torch.Tensor) -> torch.Tensor:
    """(B, 1, G, G) hull in [0, 1] -> (B, N_RINGS * N_SECTORS, G, G) 0/1 region maps.

    Rings (inside to outside): inner face, 7-14, 3-7, 0-3 px inside, 0-3, 3-7, 7-14 px outside, the
    rest, in pixels of a 128 px crop (so in cells of a G x G grid, radii scale by G / 128); sectors
    are quarters around the hull's centroid (right, bottom, left, top on screen)."""
    m = (mask01 > 0.5).to(mask01.dtype)
    scale = m.shape[-1] / 128.0
    radii = [max(1, round(e * scale)) for e in RING_EDGES_PX]
    dil = [_dilate(m, r) for r in radii]
    ero = [1.0 - _dilate(1.0 - m, r) for r in radii]
    rings = [ero[2], ero[1] - ero[2], ero[0] - ero[1], m - ero[0],
             dil[0] - m, dil[1] - dil[0], dil[2] - dil[1], 1.0 - dil[2]]
    s = m.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(s, dtype=m.dtype), torch.arange(s, dtype=m.dtype), indexing="ij")
    area = m.sum(dim=(2, 3)).clamp_min(1.0)
    cy = (m * yy).sum(dim=(2, 3)) / area
    cx = (m * xx).sum(dim=(2, 3)) / area
    ang = torch.atan2(yy - cy[..., None, None], xx - cx[..., None, None])  # (B, 1, G, G), 0 = right
    sector = torch.floor(((ang + math.pi / N_SECTORS) % (2 * math.pi)) / (2 * math.pi / N_SECTORS)).clamp_max(N_SECTORS - 1)
    secs = [(sector == k).to(m.dtype) for k in range(N_SECTORS)]
    return torch.cat([r * q for r in rings for q in secs], dim=1)


class SeamNet(nn.Module):
    """Maps are pooled to cells of ``cell`` px before the ring means: 2 px keeps the 3 px rings
    apart and is much cheaper than per-pixel rings (speeds in docs/experiments.md)."""

    def __init__(self, width: int = 12, hidden: int = 64, dropout: float = 0.3, cell: int = 2) -> None:
        super().__init__()
        self.cell = cell
        self.conv1 = ZeroSumConv2d(3, width, 5, padding=2, bias=False)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False, padding_mode="replicate")
        n_feat = 2 * width + 3
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(n_feat * N_RINGS * N_SECTORS, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def pixel_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, 2 * width + 3, S / cell, S / cell): relative log-energies and colour, scale-free."""
        f1 = self.conv1(rgb)
        f2 = self.conv2(F.relu(f1))
        out = []
        for f in (f1, f2):
            e = F.avg_pool2d(f * f, self.cell)
            floor = e.mean(dim=(2, 3), keepdim=True) * 0.01 + 1e-8  # relative floor: flat areas stay finite
            log_e = torch.log(e + floor)
            out.append(log_e - log_e.mean(dim=(2, 3), keepdim=True))
        mu = rgb.mean(dim=(2, 3), keepdim=True)
        sd = rgb.std(dim=(2, 3), keepdim=True) + 1e-3
        out.append((F.avg_pool2d(rgb, self.cell) - mu) / sd)
        return torch.cat(out, dim=1)

    def ring_means(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, S, S) -> (B, features, regions): each feature's mean over each hull region."""
        if x.shape[1] != 4:
            raise ValueError(f"SeamNet takes RGB plus the face-hull mask (4 planes), got {x.shape[1]}")
        feats = self.pixel_features(x[:, :3])
        hull = F.avg_pool2d((x[:, 3:4] + 1.0) * 0.5, self.cell)  # detector.io.mask_plane maps the hull to [-1, 1]
        regions = hull_regions(hull)
        sums = torch.einsum("bfhw,brhw->bfr", feats, regions)
        return sums / regions.sum(dim=(2, 3)).clamp_min(1.0)[:, None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.ring_means(x)).squeeze(1)


@register_detector(in_channels=4)
def seamnet(width: int = 12, hidden: int = 64, dropout: float = 0.3, cell: int = 2) -> nn.Module:
    """Hull-aware variant kept to reproduce docs/experiments.md: learnt scale-free energies and colour over hull rings."""
    return SeamNet(width=width, hidden=hidden, dropout=dropout, cell=cell)
