"""Convert dlib's face-recognition ResNet into a ``detector train --init`` directory.

Why: it is the only network trained on millions of real faces that a PyPI package gives us
(``face-recognition-models``), and dlib can run it but not fine-tune it. Its ``.dat`` file is
dlib's own serialization; we read only what we need from it, without executing or unpickling
anything: each ``con_``/``affine_``/``fc_`` layer record holds its name, then a tensor header
(format version 2, four dimensions) and little-endian float32 values. The records appear in
network order from the input side, which is the order of ``detector.models.dlib_resnet``'s
layers. The result is written as safetensors with a ``pretrain.json`` record, the same layout
`detector pretrain` writes, so ``--init`` needs nothing new.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from fakescope.core.atomicio import write_bytes_atomic, write_json_atomic
from fakescope.core.faces import model_path
from fakescope.core.hashing import sha256_file
from fakescope.core.version import code_version

DLIB_FILE = "dlib_face_recognition_resnet_model_v1.dat"
_LAYER = re.compile(rb"\x01(\x05con_4|\x07affine_|\x04fc_2)")


class _Reader:
    """dlib's integer encoding: one byte (low nibble: byte count, 0x80: negative), then the bytes little-endian."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def int(self) -> int:
        head = self.data[self.pos]
        n = head & 0x0F
        if n > 8:
            raise ValueError(f"bad integer at byte {self.pos} of dlib's model file")
        v = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -v if head & 0x80 else v

    def string(self) -> str:
        n = self.int()
        s = self.data[self.pos:self.pos + n].decode("ascii")
        self.pos += n
        return s

    def tensor(self) -> np.ndarray:
        if (version := self.int()) != 2:
            raise ValueError(f"dlib tensor format {version} at byte {self.pos}; only format 2 is read")
        n = int(np.prod([self.int() for _ in range(4)]))
        if self.pos + 4 * n > len(self.data):
            raise ValueError("dlib's model file is truncated")
        out = np.frombuffer(self.data, "<f4", n, self.pos).astype(np.float32)
        self.pos += 4 * n
        return out


def read_dlib_layers(path: Path) -> list[tuple[str, np.ndarray, list[int]]]:
    """(kind, flat params, following integers) for every conv, affine and fc layer, input side first."""
    data = path.read_bytes()
    layers = []
    for m in _LAYER.finditer(data):
        r = _Reader(data, m.start())
        name = r.string()
        if name == "fc_2":  # num_outputs, num_inputs, then the params tensor
            ints = [r.int(), r.int()]
            layers.append(("fc", r.tensor(), ints))
            continue
        params = r.tensor()
        ints = [r.int() for _ in range(7)] if name == "con_4" else []  # filters, nr, nc, strides, paddings
        layers.append(("con" if name == "con_4" else "affine", params, ints))
    return layers


def dlib_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The weights of dlib's network under ``DlibResNet``'s names (``features.*``, ``embedding.weight``)."""
    from detector.models.dlib_resnet import Affine, DlibResNet

    path = Path(path) if path is not None else model_path(DLIB_FILE)
    layers = read_dlib_layers(path)
    model = DlibResNet()
    convs = [(n, m) for n, m in model.features.named_modules() if isinstance(m, torch.nn.Conv2d)]
    affines = [(n, m) for n, m in model.features.named_modules() if isinstance(m, Affine)]
    got_c = [la for la in layers if la[0] == "con"]
    got_a = [la for la in layers if la[0] == "affine"]
    got_f = [la for la in layers if la[0] == "fc"]
    if (len(got_c), len(got_a), len(got_f)) != (len(convs), len(affines), 1):
        raise ValueError(f"{path}: found {len(got_c)} conv / {len(got_a)} affine / {len(got_f)} fc layers; "
                         f"dlib's face ResNet has {len(convs)} / {len(affines)} / 1")
    out: dict[str, torch.Tensor] = {}
    for (name, conv), (_, params, ints) in zip(convs, got_c, strict=True):
        w = conv.weight
        nf, kh, kw, sy, sx, py, px = ints
        if (nf, kh, kw, sy, sx, py, px) != (w.shape[0], w.shape[2], w.shape[3], *conv.stride, *conv.padding):
            raise ValueError(f"{path}: conv layer {name} is {ints}, expected {tuple(w.shape)} stride "
                             f"{conv.stride} padding {conv.padding}")
        nw = w.numel()
        if params.size != nw + nf:
            raise ValueError(f"{path}: conv layer {name} has {params.size} values, expected {nw + nf}")
        out[f"features.{name}.weight"] = torch.from_numpy(params[:nw].reshape(w.shape).copy())
        out[f"features.{name}.bias"] = torch.from_numpy(params[nw:].copy())
    for (name, aff), (_, params, _) in zip(affines, got_a, strict=True):
        k = aff.weight.numel()
        if params.size != 2 * k:
            raise ValueError(f"{path}: affine layer {name} has {params.size} values, expected {2 * k}")
        out[f"features.{name}.weight"] = torch.from_numpy(params[:k].copy())
        out[f"features.{name}.bias"] = torch.from_numpy(params[k:].copy())
    _, fc, (n_out, n_in) = got_f[0]
    if (n_out, n_in) != (128, 256) or fc.size != n_out * n_in:
        raise ValueError(f"{path}: fc layer {n_in}->{n_out} with {fc.size} values; expected 256->128")
    out["embedding.weight"] = torch.from_numpy(fc.reshape(n_in, n_out).T.copy())  # dlib stores inputs x outputs
    return out


def import_dlib(out_dir: Path, path: Path | None = None) -> Path:
    """Write ``out_dir/pretrain.safetensors`` and ``pretrain.json`` for ``detector train --arch dlib_resnet --init out_dir``."""
    from safetensors.torch import save

    from detector.pretrain import RECORD_FILE, WEIGHTS_FILE

    src = Path(path) if path is not None else model_path(DLIB_FILE)
    state = dlib_state_dict(src)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_dir / WEIGHTS_FILE, save(state))
    write_json_atomic(out_dir / RECORD_FILE, {
        "arch": "dlib_resnet", "config": {"arch_kwargs": {}}, "source": DLIB_FILE,
        "source_sha256": sha256_file(src), "code_version": code_version(), "finished": True,
    })
    return out_dir
