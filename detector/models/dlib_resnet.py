"""dlib's face-recognition ResNet as a detector backbone (``dlib_resnet``).

Why: nothing pretrained can be downloaded here, and every representation we made ourselves
(contrastive pretraining, the generator's encoder) left cross-dataset AUC at chance. The one
network trained on millions of real faces that we do have is the 29-conv ResNet behind dlib's
128-d face descriptor, shipped on PyPI by ``face-recognition-models``. This module rebuilds that
network in PyTorch so its trunk can start a detector (``fakescope detector import-dlib`` converts
the weights once into a ``--init`` directory; ``detector.dlib_import`` reads dlib's file).

The layers follow dlib's definition exactly (dlib/examples/dnn_face_recognition_ex.cpp), because
the converted weights only mean something under dlib's arithmetic:

- input: RGB minus (122.782, 117.001, 104.298), divided by 256, at 150x150;
- 7x7/2 conv and 3x3/2 max pool without padding; 3x3/1 convs padded by 1, 3x3/2 convs unpadded;
- batch norm frozen into per-channel ``affine`` layers (scale, shift);
- downsampling residuals add a 2x2 average pool of the input to the block's output; where the two
  differ in size or channels dlib zero-pads the smaller one at the end, so the sum keeps the
  larger shape (``_add_padded``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from detector.registry import register_detector

INPUT_SIZE = 150
# dlib's input_rgb_image subtracts these means and divides by 256; as the registry's [0, 1] mean/std:
DLIB_MEAN = (122.782 / 255.0, 117.001 / 255.0, 104.298 / 255.0)
DLIB_STD = (256.0 / 255.0,) * 3
# (channels, blocks, first block downsamples) from the input side: dlib's alevel4 .. alevel0.
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


class Affine(nn.Module):
    """Per-channel scale and shift: dlib's inference-time stand-in for batch norm (trainable here)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum has the larger of each dimension, the smaller tensor zero-padded at the end."""
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(t: torch.Tensor) -> torch.Tensor:
        if t.shape[1:] == (c, h, w):
            return t
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class Residual(nn.Module):
    """conv-affine-relu-conv-affine plus the input (average-pooled when the block downsamples), then relu."""

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.aff1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.aff2 = Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        # Below about 80 px input the last downsampling block sees fewer pixels than its unpadded
        # 3x3 kernel; zero-pad at the end, as dlib pads unequal sums. Never triggers at 150 px.
        z = F.pad(x, (0, max(0, 3 - w), 0, max(0, 3 - h))) if self.down and min(h, w) < 3 else x
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(z)))))
        skip = F.avg_pool2d(z, 2, 2) if self.down else x
        return F.relu(_add_padded(y, skip))


def dlib_trunk() -> nn.Sequential:
    """The network up to its last residual block (256 channels, 2x2 at 150 px input)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 32, 7, stride=2), Affine(32), nn.ReLU(), nn.MaxPool2d(3, 2)]
    cin = 32
    for cout, blocks, down in STAGES:
        for i in range(blocks):
            layers.append(Residual(cin, cout, down and i == 0))
            cin = cout
    return nn.Sequential(*layers)


class DlibResNet(nn.Module):
    """dlib's trunk with a one-logit head; ``embed`` gives dlib's 128-d descriptor from the same trunk."""

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = dlib_trunk()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(256, 1))
        # dlib's fc_no_bias<128>: kept so an imported trunk can be checked against dlib itself.
        self.embedding = nn.Linear(256, 128, bias=False).requires_grad_(False)  # never trained here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3))).squeeze(1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.features(x).mean(dim=(2, 3)))


@register_detector(input_size=INPUT_SIZE, mean=DLIB_MEAN, std=DLIB_STD)
def dlib_resnet(dropout: float = 0.2) -> nn.Module:
    """dlib's face-recognition ResNet (29 convs, 5.6M parameters) with a one-logit head.

    Start it from dlib's weights with ``fakescope detector import-dlib DIR`` and ``--init DIR``;
    from scratch it is just a ResNet.
    """
    return DlibResNet(dropout=dropout)
