"""Meso-4 and MesoInception-4 (Afchar et al., "MesoNet", WIFS 2018).

MesoNets look at mesoscopic texture (a few pixels to a few tens of pixels), where face-swap
blending and decoder up-sampling leave traces, with very few parameters, so they run fast on a
CPU. The paper's 256 px input ends in an 8x8x16 map; at 128 px ours ends in 4x4x16, and an
adaptive average pool to 4x4 lets the same weights take 160 px crops (5x5) too. The first dense
layer therefore has 256 instead of 1024 inputs (~16k parameters in all instead of ~28k).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from detector.registry import register_detector


def _conv_block(cin: int, cout: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(cout),  # after the activation, as in the paper's Keras code
        nn.MaxPool2d(pool, pool),
    )


class _MesoHead(nn.Module):
    """Paper head: dropout, dense 16, LeakyReLU(0.1), dropout, dense 1 (a logit, no sigmoid)."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels * 16, 16),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Dropout(dropout),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x)).squeeze(1)


class Meso4(nn.Module):
    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(3, 8, 3, 2),
            _conv_block(8, 8, 5, 2),
            _conv_block(8, 16, 5, 2),
            _conv_block(16, 16, 5, 4),
        )
        self.head = _MesoHead(16, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class InceptionLayer(nn.Module):
    """Four branches: 1x1, 1x1->3x3, 1x1->3x3 dilated 2, 1x1->3x3 dilated 3; concat, BN, pool 2.

    Dilated branches widen the receptive field without extra parameters, which is the paper's
    reason for using them instead of Meso-4's plain 5x5 convolutions in the first two layers.
    """

    def __init__(self, cin: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(cin, a, 1)
        self.b2 = nn.Sequential(nn.Conv2d(cin, b, 1), nn.ReLU(inplace=True), nn.Conv2d(b, b, 3, padding=1))
        self.b3 = nn.Sequential(
            nn.Conv2d(cin, c, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, padding=2, dilation=2)
        )
        self.b4 = nn.Sequential(
            nn.Conv2d(cin, d, 1), nn.ReLU(inplace=True), nn.Conv2d(d, d, 3, padding=3, dilation=3)
        )
        self.out = nn.Sequential(nn.ReLU(inplace=True), nn.BatchNorm2d(a + b + c + d), nn.MaxPool2d(2, 2))
        self.channels = a + b + c + d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1))


class MesoInception4(nn.Module):
    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        inc1 = InceptionLayer(3, 1, 4, 4, 2)
        inc2 = InceptionLayer(inc1.channels, 2, 4, 4, 2)
        self.features = nn.Sequential(
            inc1,
            inc2,
            _conv_block(inc2.channels, 16, 5, 2),
            _conv_block(16, 16, 5, 4),
        )
        self.head = _MesoHead(16, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ContrastHead(nn.Module):
    """A map of local fake logits read out by zero-sum spatial weights: face minus surroundings.

    Why: our detectors ranked fakes above reals *within* a video but carried a large per-video
    offset (sharp phone clips scored higher than soft, up-scaled studio clips, real or fake), which
    ruined the ranking *across* videos. A face swap or blend changes the face region of an
    aligned crop and leaves the rest, whereas the camera, compression and resampling of a video
    touch every pixel alike. Weights that sum to zero cancel any offset shared by all locations,
    so only the face's difference from its own surroundings can move the logit. The weights start
    as a centred bump minus its mean (the face region of an aligned crop) and are learnt.
    """

    def __init__(self, channels: int, grid: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.drop = nn.Dropout2d(dropout)
        self.local = nn.Conv2d(channels, 1, 1)
        r = torch.linspace(-1, 1, grid)
        bump = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 0.35**2))
        self.spatial = nn.Parameter(bump / bump.sum())
        self.bias = nn.Parameter(torch.zeros(1))

    def weights(self) -> torch.Tensor:
        w = self.spatial - self.spatial.mean()
        return w / w.abs().sum().clamp_min(1e-6) * 2  # unit mass on each side: mean(face) - mean(rest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.local(self.drop(self.pool(x))).squeeze(1)  # (B, G, G) local logits
        return (z * self.weights()).sum(dim=(1, 2)) + self.bias


def _meso4_eighth_features(in_channels: int) -> nn.Sequential:
    """Meso-4's first three blocks and a fourth 5x5 conv kept at 1/8 resolution (16 channels)."""
    return nn.Sequential(
        _conv_block(in_channels, 8, 3, 2),
        _conv_block(8, 8, 5, 2),
        _conv_block(8, 16, 5, 2),
        nn.Conv2d(16, 16, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(16),
    )


class Meso4Contrast(nn.Module):
    """Meso-4's first three blocks, a fourth 5x5 conv kept at 1/8 resolution, and a ContrastHead.

    ``in_channels=4`` takes the face-hull mask as a fourth plane (detector.io.preprocess_crops).
    Why: a blend or swap boundary runs along that hull, which moves with pose and expression, so
    fixed spatial weights can only guess where to look. Measured, the 4-plane variant
    (meso4_contrast_mask) did not beat the RGB-only one; see docs/experiments.md.
    """

    def __init__(self, dropout: float = 0.2, grid: int = 16, in_channels: int = 3) -> None:
        super().__init__()
        self.features = _meso4_eighth_features(in_channels)
        self.head = ContrastHead(16, grid, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class HullContrastHead(nn.Module):
    """Local fake logits averaged over three regions of *this* face's hull, read out zero-sum.

    The regions come from the mask plane of the input (a 4-channel crop): inside the hull, a band
    across its boundary (grid cells the hull only partly covers) and outside it. Their means are
    combined with learnt weights that sum to zero, so, as in ContrastHead, an offset shared by the
    whole crop cancels (whenever the crop holds all three regions, i.e. a face that is not cut
    off); unlike it, the band follows the face's pose and expression instead of a fixed bump,
    which is where a pasted face's seam runs.
    """

    def __init__(self, channels: int, grid: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.drop = nn.Dropout2d(dropout)
        self.local = nn.Conv2d(channels, 1, 1)
        self.mix = nn.Parameter(torch.tensor([0.0, 1.0, -1.0]))  # inner, band, outer: start as band - outer
        self.bias = nn.Parameter(torch.zeros(1))

    @staticmethod
    def regions(mask01: torch.Tensor) -> torch.Tensor:
        """(B, G, G) hull coverage per cell -> (B, 3, G, G) weights of inner, band, outer, each summing to 1.

        inner = the hull eroded by one cell, outer = outside the hull dilated by one cell, band = the
        rest (dilated minus eroded): about three cells wide across the boundary wherever it runs."""
        m = mask01[:, None]
        dilated = F.max_pool2d(m, 3, 1, 1)
        eroded = -F.max_pool2d(-m, 3, 1, 1)
        w = torch.cat([eroded, dilated - eroded, 1.0 - dilated], dim=1)
        return w / w.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)

    def forward(self, feats: torch.Tensor, mask01: torch.Tensor) -> torch.Tensor:
        z = self.local(self.drop(self.pool(feats)))[:, 0]  # (B, G, G)
        m = self.pool(mask01[:, None])[:, 0]
        means = (z[:, None] * self.regions(m)).sum(dim=(2, 3))  # (B, 3)
        return (means * (self.mix - self.mix.mean())).sum(dim=1) + self.bias


class Meso4Hull(nn.Module):
    """Meso4Contrast's features on the RGB planes only, read out by a HullContrastHead.

    The mask decides only *where* local evidence is pooled, never what the features see: a model
    that reads the hull as an input plane (meso4_contrast_mask) may learn the hull's shape, which
    can differ between offline fakes and reals, rather than the seam. Figures: docs/experiments.md.
    """

    def __init__(self, dropout: float = 0.2, grid: int = 16) -> None:
        super().__init__()
        self.features = _meso4_eighth_features(3)
        self.head = HullContrastHead(16, grid, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask01 = (x[:, 3] + 1.0) * 0.5  # detector.io.mask_plane maps the hull to [-1, 1]
        return self.head(self.features(x[:, :3]), mask01)


class Meso4XRay(Meso4Contrast):
    """meso4_contrast plus a seam map predicted from the same features, trained where it is known.

    Why (Li et al., "Face X-ray", CVPR 2020): our detectors ranked a video's self-blends above its
    reals but carried per-video offsets, because a global label lets a network use whatever tells
    the training videos apart (sharpness, compression, the studio). Asking the features also to
    say *where* two images were mixed (4 a (1 - a) of the blend alpha, zero on a real face) ties
    them to the seam itself. The seam target is exact for online self-blends and zero for reals;
    offline fakes, whose masks we do not keep, get no seam loss. By default the classifier is
    ContrastHead alone and the seam map is training-only; ``readout=True`` adds the mean of the
    top 10% seam logits (learnt gain) to the logit, so the class loss on offline fakes teaches the
    seam map too. Not better than meso4_contrast on average, so not the default (figures:
    docs/experiments.md).
    """

    predicts_seam = True

    def __init__(self, dropout: float = 0.2, grid: int = 16, readout: bool = False) -> None:
        super().__init__(dropout=dropout, grid=grid)
        self.seam = nn.Conv2d(16, 1, 3, padding=1)
        self.readout = readout
        if readout:  # the logit also rises with the strongest seam evidence (mean of the top 10% cells)
            self.seam_gain = nn.Parameter(torch.tensor(0.5))
            self.seam_bias = nn.Parameter(torch.tensor(2.0))  # seam logits of a real face sit well below 0

    def forward(self, x: torch.Tensor, seam: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        logits = self.head(f)
        if not (seam or self.readout):
            return logits
        s = self.seam(f).squeeze(1)  # (B, S/8, S/8) seam logits
        if self.readout:
            flat = s.flatten(1)
            top = flat.topk(max(1, flat.shape[1] // 10), dim=1).values.mean(dim=1)
            logits = logits + self.seam_gain * (top + self.seam_bias)
        return (logits, s) if seam else logits


@register_detector
def meso4(dropout: float = 0.5) -> nn.Module:
    """Baseline: Meso-4 (Afchar et al. 2018), 4 conv blocks, ~16k parameters, dense head; the reference for the others."""
    return Meso4(dropout=dropout)


@register_detector
def meso_inception4(dropout: float = 0.5) -> nn.Module:
    """Baseline: MesoInception-4 (Afchar et al. 2018), the paper's second MesoNet: dilated inception layers, Meso-4's tail."""
    return MesoInception4(dropout=dropout)


@register_detector
def meso4_contrast(dropout: float = 0.2, grid: int = 16) -> nn.Module:
    """Shipped default: Meso-4 features read out face-minus-surroundings (zero-sum weights), so video offsets cancel."""
    return Meso4Contrast(dropout=dropout, grid=grid)


@register_detector
def meso4_xray(dropout: float = 0.2, grid: int = 16, readout: bool = False) -> nn.Module:
    """Face X-ray variant, the only arch for --seam: meso4_contrast plus a blend-seam map; train with --sbi and --seam.

    Kept to reproduce docs/experiments.md; not better than the default on average.
    """
    return Meso4XRay(dropout=dropout, grid=grid, readout=readout)


@register_detector(in_channels=4)
def meso4_contrast_mask(dropout: float = 0.2, grid: int = 16) -> nn.Module:
    """Hull-as-input variant kept to reproduce docs/experiments.md: meso4_contrast with the face hull as a 4th plane.

    The simplest ``in_channels=4`` model, so also the one the tests use for mask-reading detectors.
    """
    return Meso4Contrast(dropout=dropout, grid=grid, in_channels=4)


@register_detector(in_channels=4)
def meso4_hull(dropout: float = 0.2, grid: int = 16) -> nn.Module:
    """Hull-aware variant kept to reproduce docs/experiments.md: Meso-4 features pooled inner / seam band / outer of the hull."""
    return Meso4Hull(dropout=dropout, grid=grid)
