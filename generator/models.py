"""Shared-encoder / per-identity-decoder autoencoder (the classic deepfake design), sized for a CPU.

Why this shape: the encoder is trained on every identity, so it learns an identity-free code of
pose, expression and lighting; each decoder only ever learns to paint its own identity from that
code. Swapping is therefore just ``decoders[B](encoder(face_of_A))``.

CPU choices (measured in benchmarks/generator_speed.py): stride-2 convs down; up-sampling by
pixel shuffle or by 4x4 stride-2 transposed convs (the ``quick`` preset uses the latter: same
loss per step on real faces in a side-by-side run, ~20 % more steps per second); channels_last
memory and bf16 autocast, which oneDNN runs on AMX/AVX-512 BF16 units where the CPU has them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

IDENTITY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Preset:
    """Architecture plus the training knobs that go with it (both decide speed and quality)."""

    name: str
    size: int  # aligned face crop, pixels
    # Crops are fakescope.core.faces.align_face(size, margin, shift_y); training and rendering must agree.
    # Why not the core defaults: its template centres the eyes-to-mouth triangle, so any margin that
    # keeps the chin leaves a third of the crop above the brows, which the swap never pastes. At 64 px
    # every pixel counts: margin 0.1 and shift 0.15 put ~1.3x more pixels on the face (measured on six
    # ../shared/data talking heads: the hull's median distance to each edge is 12-22 % of the crop and
    # its 1st percentile >= 3 %, so the eroded, feathered blend mask always fits).
    margin: float
    shift_y: float
    enc_channels: tuple[int, ...]  # one stride-2 conv per entry
    latent: int  # dense bottleneck width: forces an identity-free, low-dimensional code
    code_channels: int  # channels of the shared code map the decoders start from
    dec_channels: tuple[int, ...]  # one x2 pixel-shuffle stage per entry
    res_blocks: int = 1  # residual blocks after the second-to-last decoder stage
    upsample: str = "shuffle"  # "shuffle" (conv + PixelShuffle) or "transpose" (4x4 stride-2 transposed conv)
    mask_head: bool = True
    batch_per_identity: int = 16
    lr: float = 3e-4  # Adam; these small models tolerate a higher rate than the 5e-5 of 256 px originals
    gan_start_step: int = 3000  # GAN only once reconstructions are recognisable (avoids early collapse)
    gan_weight: float = 0.1
    disc_width: int = 32
    disc_layers: int = 3

    def __post_init__(self) -> None:
        if self.size % (2 ** len(self.enc_channels)) != 0:
            raise ValueError(f"preset {self.name}: size {self.size} must be divisible by 2**{len(self.enc_channels)}")
        if 2 ** (len(self.dec_channels) + 1) * self.bottleneck_side != self.size:
            raise ValueError(f"preset {self.name}: decoder stages do not upscale back to {self.size} px")

    @property
    def bottleneck_side(self) -> int:
        return self.size // 2 ** len(self.enc_channels)

    def as_json(self) -> dict[str, object]:
        d = asdict(self)
        d["enc_channels"] = list(self.enc_channels)
        d["dec_channels"] = list(self.dec_channels)
        return d

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Preset:
        d = dict(d)
        d["enc_channels"] = tuple(d["enc_channels"])  # type: ignore[arg-type]
        d["dec_channels"] = tuple(d["dec_channels"])  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


PRESETS: dict[str, Preset] = {
    # 64 px, narrow, transposed-conv up-sampling: built for >= 2.5 it/s at 2 x 16 faces on 2 cores
    # (benchmarks/generator_speed.py).
    "quick": Preset(
        name="quick", size=64, margin=0.1, shift_y=0.15, enc_channels=(32, 64, 128, 256), latent=256,
        code_channels=128, dec_channels=(96, 48, 24), upsample="transpose", gan_start_step=3000,
    ),
    # 128 px, wider: about 4x the pixels; for longer runs where sharpness matters.
    "standard": Preset(
        name="standard", size=128, margin=0.1, shift_y=0.15, enc_channels=(32, 64, 128, 256, 384), latent=384,
        code_channels=256, dec_channels=(192, 96, 48, 24), lr=2e-4, gan_start_step=6000, disc_width=48,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class Upscale(nn.Module):
    """Doubles resolution: conv -> LeakyReLU -> PixelShuffle(2), or a 4x4 stride-2 transposed conv.

    Both avoid the uneven-overlap checkerboard of odd-kernel transposed convs; the transposed
    4x4 needs 16 instead of 36 MACs per input pixel and channel pair, which matters on a CPU.
    """

    def __init__(self, cin: int, cout: int, mode: str = "shuffle") -> None:
        super().__init__()
        if mode == "shuffle":
            self.body: nn.Module = nn.Sequential(nn.Conv2d(cin, cout * 4, 3, 1, 1), _act(), nn.PixelShuffle(2))
        elif mode == "transpose":
            self.body = nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), _act())
        else:
            raise ValueError(f"unknown upsample mode {mode!r}; use 'shuffle' or 'transpose'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, 1, 1)
        self.c2 = nn.Conv2d(ch, ch, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.c2(self.act(self.c1(x))))


class Encoder(nn.Module):
    """Convs down to size/16 (or /32), a dense bottleneck, then one upscale to the decoders' input."""

    def __init__(self, p: Preset) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for ch in p.enc_channels:
            layers += [nn.Conv2d(cin, ch, 5 if cin == 3 else 3, 2, 2 if cin == 3 else 1), _act()]
            cin = ch
        self.down = nn.Sequential(*layers)
        side = p.bottleneck_side
        self.side, self.ch = side, cin
        self.to_latent = nn.Linear(cin * side * side, p.latent)
        self.from_latent = nn.Linear(p.latent, cin * side * side)
        self.up = Upscale(cin, p.code_channels, p.upsample)
        self.out_channels = p.code_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.down(x)
        z = self.to_latent(h.flatten(1))
        h = self.from_latent(z).view(-1, self.ch, self.side, self.side)
        return self.up(h.contiguous(memory_format=torch.channels_last))


class Decoder(nn.Module):
    """Paints one identity. Outputs RGB in [0, 1] and, optionally, a face mask logit map."""

    def __init__(self, p: Preset, in_channels: int) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        cin = in_channels
        for i, ch in enumerate(p.dec_channels):
            if i == len(p.dec_channels) - 1:
                # Residual refinement one level below full resolution: a quarter of the cost of
                # doing it at full size, and the last upscale still adds fine detail.
                stages += [ResBlock(cin) for _ in range(p.res_blocks)]
            stages.append(Upscale(cin, ch, p.upsample))
            cin = ch
        self.stages = nn.Sequential(*stages)
        # RGB and the optional mask come from one conv (a 4th output channel): the mask head reads
        # the last feature map, so it learns where this identity's face ends, and one conv with 4
        # outputs costs about what a 3-output conv does, where two separate ones cost twice.
        self.mask_head = p.mask_head
        self.out = nn.Conv2d(cin, 4 if p.mask_head else 3, 3, 1, 1)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        o = self.out(self.stages(h))
        rgb = torch.sigmoid(o[:, :3])
        mask = o[:, 3:4] if self.mask_head else None
        return rgb, mask


class FaceSwapModel(nn.Module):
    """One shared encoder, one decoder per identity (any number of identities >= 2)."""

    def __init__(self, preset: Preset, identities: list[str] | tuple[str, ...]) -> None:
        super().__init__()
        ids = list(identities)
        if len(ids) < 2:
            raise ValueError("face swap needs at least two identities (one to swap from, one to swap to)")
        if len(set(ids)) != len(ids):
            raise ValueError(f"identity names must be unique, got {ids}")
        for name in ids:
            if not IDENTITY_NAME.match(name):
                raise ValueError(f"identity name {name!r} must be 1-64 letters, digits, '_' or '-' (it names files)")
        self.preset = preset
        self.identities = ids
        self.encoder = Encoder(preset)
        self.decoders = nn.ModuleList(Decoder(preset, self.encoder.out_channels) for _ in ids)

    def index(self, identity: str) -> int:
        try:
            return self.identities.index(identity)
        except ValueError:
            raise ValueError(f"unknown identity {identity!r}; this model knows: {', '.join(self.identities)}") from None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.contiguous(memory_format=torch.channels_last))

    def decode(self, code: torch.Tensor, identity: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.decoders[identity](code)

    def forward(self, x: torch.Tensor, identity: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.decode(self.encode(x), identity)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, S, S, 3) or float [0, 1] images -> float32 (N, 3, S, S) tensor in [0, 1] (channel order kept)."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) tensor in [0, 1] -> uint8 (N, S, S, 3)."""
    x = x.detach().float().clamp(0, 1).permute(0, 2, 3, 1)
    return (x * 255.0 + 0.5).to(torch.uint8).contiguous().numpy()


def bf16_supported() -> bool:
    """True when oneDNN has native bf16 kernels here (AVX512-BF16/AMX); elsewhere bf16 is emulated and slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str) -> torch.dtype | None:
    """Map ``auto`` / ``bf16`` / ``fp32`` to the CPU autocast dtype (None = full float32)."""
    if precision == "auto":
        return torch.bfloat16 if bf16_supported() else None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp32":
        return None
    raise ValueError(f"unknown precision {precision!r}; use 'auto', 'bf16' or 'fp32'")
