import pytest
import torch

from detector.meso import InceptionLayer, Meso4, MesoInception4


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
    from detector.meso import ContrastHead, Meso4Contrast

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
