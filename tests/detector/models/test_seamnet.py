import pytest
import torch

from detector.models.seamnet import N_RINGS, N_SECTORS, SeamNet, ZeroSumConv2d, hull_regions


def _face_batch(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 4, 128, 128, generator=g) * 2 - 1
    x[:, 3] = -1.0
    x[:, 3, 24:104, 32:96] = 1.0  # hull plane in [-1, 1], as detector.io.mask_plane makes it
    return x


def test_zero_sum_kernels_ignore_a_constant_image():
    conv = ZeroSumConv2d(3, 4, 5, padding=2, bias=False)
    assert conv(torch.full((1, 3, 16, 16), 0.7)).abs().max() < 1e-5


def test_rings_partition_the_crop_and_follow_the_hull():
    m = torch.zeros(2, 1, 128, 128)
    m[0, :, 20:80, 20:80] = 1.0
    m[1, :, 50:110, 50:110] = 1.0
    r = hull_regions(m)
    assert r.shape == (2, N_RINGS * N_SECTORS, 128, 128)
    assert torch.equal(r.sum(dim=1), torch.ones(2, 128, 128))  # every pixel in exactly one region
    rings = r.view(2, N_RINGS, N_SECTORS, 128, 128).sum(dim=2)
    # ring 3 = 0-3 px inside the boundary, ring 4 = 0-3 px outside: each face's own edge
    assert rings[0, 3, 21, 50] == 1 and rings[0, 4, 18, 50] == 1 and rings[0, 0, 50, 50] == 1
    assert rings[1, 3, 51, 80] == 1 and rings[1, 7, 21, 50] == 1
    # a half-size grid of the same crop keeps the rings in crop pixels (3 px = 2 cells, 7 px = 4 cells)
    half = hull_regions(torch.nn.functional.avg_pool2d(m, 2)).view(2, N_RINGS, N_SECTORS, 64, 64).sum(2)
    assert half[0, 3, 10, 25] == 1 and half[0, 4, 9, 25] == 1 and half[0, 5, 7, 25] == 1 and half[0, 6, 5, 25] == 1


def test_global_contrast_and_brightness_changes_cancel_but_a_seam_does_not():
    torch.manual_seed(0)
    net = SeamNet().eval()
    x = _face_batch()
    y = x.clone()
    y[:, :3] = x[:, :3] * 0.4 + 0.3  # a duller, brighter copy of the same crops
    seam = x.clone()
    seam[:, :3, 20:28, 32:96] *= 0.2  # flatten a band across the top of the hull: a change *at* the seam
    with torch.no_grad():
        mx, my, ms = (net.ring_means(t) for t in (x, y, seam))
        assert torch.allclose(net(x), net(y), atol=1e-3)
    assert (mx - my).abs().max() < 0.02
    # the top sector's boundary rings lose energy; the bottom sector's do not move
    top = slice(3 * N_SECTORS + 3, 3 * N_SECTORS + 4)
    bottom = slice(3 * N_SECTORS + 1, 3 * N_SECTORS + 2)
    assert (ms - mx)[:, :24, top].mean() < -1.0
    assert (ms - mx)[:, :24, bottom].abs().mean() < (ms - mx)[:, :24, top].abs().mean() / 5


def test_needs_the_hull_plane():
    with pytest.raises(ValueError, match="4 planes"):
        SeamNet()(torch.zeros(1, 3, 64, 64))
