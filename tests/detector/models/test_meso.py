import pytest
import torch

from detector.models.meso import InceptionLayer, Meso4, MesoInception4


def test_meso_models_stay_tiny():
    # Afchar et al. report ~28k parameters at 256 px; the 4x4 pool shrinks the first dense layer.
    assert sum(p.numel() for p in Meso4().parameters()) < 30_000
    assert sum(p.numel() for p in MesoInception4().parameters()) < 30_000


def test_inception_layer_concatenates_branches_and_halves_resolution():
    layer = InceptionLayer(3, 1, 4, 4, 2)
    out = layer(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 11, 16, 16)


def test_meso_eval_is_deterministic_at_128_and_160():
    model = Meso4().eval()
    x = torch.randn(2, 3, 160, 160)
    assert torch.equal(model(x), model(x))
    assert model(torch.randn(1, 3, 128, 128)).shape == (1,)


def test_contrast_head_ignores_an_offset_shared_by_every_location():
    from detector.models.meso import ContrastHead, Meso4Contrast

    torch.manual_seed(0)
    head = ContrastHead(16, grid=8).eval()
    feats = torch.randn(3, 16, 16, 16)
    before = head(feats)
    with torch.no_grad():
        head.local.bias += 5.0  # every local logit moves by the same amount
    assert torch.allclose(head(feats), before, atol=1e-5)
    w = head.weights().detach()
    assert abs(float(w.sum())) < 1e-5 and float(w.abs().sum()) == pytest.approx(2.0)
    # the face (centre) counts positively, the border negatively, from initialisation on
    w = head.weights().detach()
    assert w[4, 4] > 0 and w[0, 0] < 0
    assert Meso4Contrast().eval()(torch.randn(2, 3, 160, 160)).shape == (2,)


def test_hull_head_follows_the_face_mask_and_ignores_a_shared_offset():
    from detector.models.meso import HullContrastHead, Meso4Hull

    torch.manual_seed(0)
    head = HullContrastHead(16, grid=8).eval()
    feats = torch.randn(2, 16, 16, 16)
    mask = torch.zeros(2, 64, 64)
    mask[0, 8:40, 8:40] = 1.0  # top-left face
    mask[1, 24:56, 24:56] = 1.0  # bottom-right face
    before = head(feats, mask)
    with torch.no_grad():
        head.local.bias += 5.0
    assert torch.allclose(head(feats, mask), before, atol=1e-5)
    w = HullContrastHead.regions(head.pool(mask[:, None])[:, 0])
    assert torch.allclose(w.sum(dim=(2, 3)), torch.ones(2, 3))
    band = w[:, 1]
    # the seam band of each face lies on its own boundary (cells 1 and 4 of 8), not at a fixed place
    assert band[0, 1, 1] > 0 and band[0, 4, 4] > 0 and band[0, 7, 7] == 0 and band[0, 2, 2] == 0
    assert band[1, 3, 3] > 0 and band[1, 6, 6] > 0 and band[1, 1, 1] == 0 and band[1, 5, 5] == 0
    # the same feature change counts as seam for face 0 (towards fake) and as surroundings for face 1
    seam = torch.zeros(2, 16, 16, 16)
    seam[:, :, 2:4, 2:10] = 3.0  # rows 2-3 of 16 = cell row 1 of 8: face 0's top edge
    flat = torch.zeros(2, 16, 16, 16)
    with torch.no_grad():
        head.local.weight.fill_(1.0 / 16)  # local logit = mean feature
    delta = head(seam, mask) - head(flat, mask)
    assert float(delta[0].detach()) > 0.1 and float(delta[1].detach()) < -0.1
    x = torch.randn(2, 4, 128, 128)
    x[:, 3] = mask.repeat_interleave(2, 1).repeat_interleave(2, 2) * 2 - 1
    assert Meso4Hull().eval()(x).shape == (2,)


def test_xray_readout_adds_the_strongest_seam_evidence_to_the_logit():
    from detector.registry import create_detector

    torch.manual_seed(0)
    plain = create_detector("meso4_xray").eval()
    read = create_detector("meso4_xray", readout=True).eval()
    read.load_state_dict(plain.state_dict(), strict=False)  # same features, head and seam conv
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        base, seam = plain(x, seam=True)
        with_seam = read(x)
    top = seam.flatten(1).topk(6, dim=1).values.mean(dim=1)  # 64 cells -> the top 6
    assert torch.allclose(with_seam, base + 0.5 * (top + 2.0), atol=1e-5)
