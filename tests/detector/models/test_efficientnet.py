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


def test_the_trunk_is_reachable_as_features_without_new_state_keys():
    net = mobilenet_v3_small().eval()
    assert all(k.startswith("net.") for k in net.state_dict())
    x = torch.randn(1, 3, 96, 96)
    fmap = net.features(x)
    assert fmap.ndim == 4 and fmap.shape[1] == 576
    assert next(net.features.parameters()) is next(net.net.features.parameters())
