from __future__ import annotations

import pytest
import torch

from generator.models import PRESETS, FaceSwapModel, Preset, get_preset, parameter_count


def _conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def expected_params(p: Preset, n_ids: int) -> tuple[int, int]:
    """Independent count from the architecture description: (encoder, one decoder)."""
    enc, cin = 0, 3
    for i, ch in enumerate(p.enc_channels):
        enc += _conv(cin, ch, 5 if i == 0 else 3)
        cin = ch
    flat = cin * p.bottleneck_side**2
    enc += flat * p.latent + p.latent + p.latent * flat + flat
    up = (lambda a, b: _conv(a, b * 4, 3)) if p.upsample == "shuffle" else (lambda a, b: a * b * 16 + b)
    enc += up(cin, p.code_channels)
    dec, cin = 0, p.code_channels
    for i, ch in enumerate(p.dec_channels):
        if i == len(p.dec_channels) - 1:
            dec += p.res_blocks * 2 * _conv(cin, cin, 3)
        dec += up(cin, ch)
        cin = ch
    dec += _conv(cin, 4 if p.mask_head else 3, 3)
    return enc, dec


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_shapes_and_parameter_counts(name: str) -> None:
    p = get_preset(name)
    m = FaceSwapModel(p, ["a", "b", "c"])
    enc, dec = expected_params(p, 3)
    assert parameter_count(m.encoder) == enc
    assert all(parameter_count(d) == dec for d in m.decoders)
    assert parameter_count(m) == enc + 3 * dec
    x = torch.rand(2, 3, p.size, p.size)
    with torch.no_grad():
        code = m.encode(x)
        assert code.shape == (2, p.code_channels, 2 * p.bottleneck_side, 2 * p.bottleneck_side)
        for i in range(3):
            rgb, mask = m.decode(code, i)
            assert rgb.shape == (2, 3, p.size, p.size)
            assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0
            assert mask is not None and mask.shape == (2, 1, p.size, p.size)


def test_standard_is_bigger_than_quick() -> None:
    q, s = get_preset("quick"), get_preset("standard")
    assert s.size >= q.size
    assert parameter_count(FaceSwapModel(s, ["a", "b"])) > parameter_count(FaceSwapModel(q, ["a", "b"]))


def test_decoders_are_independent_but_encoder_shared(tiny_preset: Preset) -> None:
    m = FaceSwapModel(tiny_preset, ["a", "b"])
    x = torch.rand(1, 3, 16, 16)
    rgb_a, _ = m(x, 0)
    rgb_a.sum().backward()
    assert m.decoders[0].out.weight.grad is not None
    assert m.decoders[1].out.weight.grad is None  # decoding as "a" never touches b's decoder
    assert m.encoder.to_latent.weight.grad is not None


def test_preset_json_roundtrip() -> None:
    p = get_preset("standard")
    assert Preset.from_json(p.as_json()) == p


@pytest.mark.parametrize(
    "ids, match",
    [(["a"], "at least two"), (["a", "a"], "unique"), (["a", "b/c"], "letters"), (["", "b"], "letters")],
)
def test_bad_identities_are_rejected(tiny_preset: Preset, ids: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FaceSwapModel(tiny_preset, ids)


def test_unknown_preset_and_identity() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        get_preset("huge")
    m = FaceSwapModel(get_preset("quick"), ["a", "b"])
    with pytest.raises(ValueError, match="knows: a, b"):
        m.index("zed")
