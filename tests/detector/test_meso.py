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
