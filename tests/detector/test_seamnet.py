import pytest
import torch

from detector.seamnet import SeamNet, ZeroSumConv2d


def _face_batch(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 4, 64, 64, generator=g) * 2 - 1
    x[:, 3] = -1.0
    x[:, 3, 12:52, 16:48] = 1.0  # hull plane in [-1, 1], as detector.io.mask_plane makes it
    return x


def test_zero_sum_kernels_ignore_a_constant_image():
    conv = ZeroSumConv2d(3, 4, 5, padding=2, bias=False)
    flat = torch.full((1, 3, 16, 16), 0.7)
    assert conv(flat)[..., 4:-4, 4:-4].abs().max() < 1e-5


def test_global_contrast_and_brightness_changes_cancel_but_a_seam_does_not():
    torch.manual_seed(0)
    net = SeamNet().eval()
    x = _face_batch()
    y = x.clone()
    y[:, :3] = x[:, :3] * 0.4 + 0.3  # a duller, brighter copy of the same crops
    seam = x.clone()
    seam[:, :3, 8:16, 14:50] *= 0.2  # flatten a band across the top of the hull: a change *at* the seam
    with torch.no_grad():
        fx, fy, fs = (net.cell_features(t[:, :3]) for t in (x, y, seam))
        assert torch.allclose(net(x), net(y), atol=2e-3)
    assert (fx - fy).abs().max() < 0.02
    # 4 px cells: rows 2-3 hold the flattened band; its energies drop by far more than any global change moves them
    assert (fs - fx)[:, :32, 2:4, 4:12].mean() < -1.0
    assert (fs - fx)[:, :32, 8:, :].abs().mean() < (fs - fx)[:, :32, 2:4, 4:12].abs().mean() / 5


def test_needs_the_hull_plane():
    with pytest.raises(ValueError, match="4 planes"):
        SeamNet()(torch.zeros(1, 3, 64, 64))
