from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.losses import (
    gan_d_loss,
    gan_g_loss,
    gan_ramp,
    reconstruction_loss,
    region_weights,
    ssim,
    ssim_map,
)
from generator.synthetic import MEAN_SHAPE


def test_ssim_is_one_for_identical_and_drops_with_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-4)
    small = ssim(x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    big = ssim(x, (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    assert (big < small).all() and (small < 1).all()


def test_ssim_mask_restricts_the_average() -> None:
    x = torch.rand(1, 3, 32, 32)
    y = x.clone()
    y[..., :, 16:] = torch.rand(1, 3, 32, 16)  # right half differs
    left = torch.zeros(1, 1, 32, 32)
    left[..., :, :10] = 1
    assert ssim(x, y, left).item() > 0.99 > ssim(x, y).item()


def test_ssim_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        ssim_map(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 9, 8))


def test_region_weights_emphasise_eyes_and_mouth() -> None:
    size = 64
    lm = MEAN_SHAPE * size
    w = region_weights(lm, size, eyes=3.0, mouth=2.0, background=0.05)
    eye = lm[36:42].mean(0).round().astype(int)
    mouth = lm[48:60].mean(0).round().astype(int)
    cheek = ((lm[2] + lm[30]) / 2).round().astype(int)
    assert w[eye[1], eye[0]] == 3.0
    assert w[mouth[1], mouth[0]] == 2.0
    assert w[cheek[1], cheek[0]] == 1.0
    assert w[1, 1] == pytest.approx(0.05)


def test_reconstruction_loss_cares_more_about_eyes_than_background() -> None:
    size = 64
    lm = MEAN_SHAPE * size
    w = torch.from_numpy(region_weights(lm, size))[None, None]
    target = torch.full((1, 3, size, size), 0.5)
    assert reconstruction_loss(target, target, w).item() == pytest.approx(0.0, abs=1e-5)
    eye = lm[36:42].mean(0).round().astype(int)
    err_eye, err_bg = target.clone(), target.clone()
    err_eye[..., eye[1] - 2:eye[1] + 2, eye[0] - 2:eye[0] + 2] = 1.0
    err_bg[..., 1:5, 1:5] = 1.0
    assert reconstruction_loss(err_eye, target, w).item() > 10 * reconstruction_loss(err_bg, target, w).item()


@pytest.mark.parametrize("kind", ["lsgan", "hinge"])
def test_gan_losses_reward_the_right_side(kind: str) -> None:
    confident_real, confident_fake = torch.full((4, 1, 2, 2), 2.0), torch.full((4, 1, 2, 2), -2.0)
    fooled = gan_d_loss(confident_fake, confident_real, kind)
    right = gan_d_loss(confident_real, confident_fake, kind)
    assert right.item() < fooled.item()
    assert gan_g_loss(confident_real, kind).item() < gan_g_loss(confident_fake, kind).item()
    with pytest.raises(ValueError, match="unknown GAN loss"):
        gan_g_loss(confident_real, "wgan")  # type: ignore[arg-type]


def test_gan_ramp_starts_after_warm_up() -> None:
    assert gan_ramp(99, 100, 10) == 0.0
    assert 0.0 < gan_ramp(100, 100, 10) < gan_ramp(105, 100, 10) < 1.0
    assert gan_ramp(500, 100, 10) == 1.0


def test_region_weights_rejects_wrong_landmarks() -> None:
    with pytest.raises(ValueError, match="68, 2"):
        region_weights(np.zeros((5, 2)), 16)


def test_ssim_stays_float32_under_bf16_autocast() -> None:
    # Real faces have large flat regions; in bf16 the variance terms go negative and SSIM -> -inf.
    g = torch.Generator().manual_seed(1)
    x = torch.full((2, 3, 32, 32), 0.8) + 0.002 * torch.rand(2, 3, 32, 32, generator=g)
    y = x + 0.001 * torch.randn(x.shape, generator=g)
    ref = ssim_map(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = ssim_map(x, y)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert torch.allclose(got, ref, atol=1e-5)


def test_feature_matching_is_zero_for_the_real_crop_and_grows_with_the_difference() -> None:
    from generator.discriminator import PatchDiscriminator
    from generator.losses import feature_matching_loss

    torch.manual_seed(0)
    disc = PatchDiscriminator(3, width=8, n_layers=2).eval()  # eval: spectral norm's weights stay put
    real = torch.rand(2, 3, 32, 32)
    near = (real + 0.02 * torch.randn_like(real)).clamp(0, 1)
    far = (real + 0.2 * torch.randn_like(real)).clamp(0, 1)
    feats = disc.features(real)
    assert len(feats) == 4 and feats[-1].shape[1] == 1  # three activation maps, then the logits
    assert torch.equal(feats[-1], disc(real))
    assert feature_matching_loss(feats, disc.features(real)).item() == pytest.approx(0.0, abs=1e-6)
    assert 0 < feature_matching_loss(feats, disc.features(near)).item() < feature_matching_loss(feats, disc.features(far)).item()


def test_feature_matching_pulls_only_the_fake() -> None:
    from generator.discriminator import PatchDiscriminator
    from generator.losses import feature_matching_loss

    disc = PatchDiscriminator(3, width=8, n_layers=2)
    real = torch.rand(1, 3, 16, 16, requires_grad=True)
    fake = torch.rand(1, 3, 16, 16, requires_grad=True)
    feature_matching_loss(disc.features(real), disc.features(fake)).backward()
    assert real.grad is None and fake.grad is not None and fake.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same discriminator layers"):
        feature_matching_loss(disc.features(real)[:1], disc.features(fake)[:1])
