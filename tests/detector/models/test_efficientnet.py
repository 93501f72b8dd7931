import torch

from detector.models.efficientnet import mobilenet_v3_small


def test_width_multiplier_shrinks_the_net():
    full = sum(p.numel() for p in mobilenet_v3_small().parameters())
    half = sum(p.numel() for p in mobilenet_v3_small(width_mult=0.5).parameters())
    assert half < full / 2


def test_built_from_scratch_with_one_logit():
    torch.manual_seed(0)
    a = mobilenet_v3_small().eval()
    torch.manual_seed(1)
    b = mobilenet_v3_small().eval()
    assert a(torch.randn(2, 3, 128, 128)).shape == (2,)
    # random init (no pretrained weights): two seeds give different nets
    wa, wb = (next(m.parameters()) for m in (a, b))
    assert not torch.equal(wa, wb)
