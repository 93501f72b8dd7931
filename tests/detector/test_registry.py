import subprocess
import sys

import pytest
import torch

from detector import registry
from detector.registry import create_detector, detector_spec, list_detectors, register_detector


def test_builtin_families_are_registered():
    names = list_detectors()
    for expected in ("meso4", "meso_inception4", "mobilenet_v3_small", "patchgan"):
        assert expected in names


@pytest.mark.parametrize("name", list_detectors())
def test_forward_backward_one_logit_per_image(name):
    torch.manual_seed(0)
    model = create_detector(name).train()
    x = torch.randn(3, detector_spec(name).in_channels, 64, 64)
    logits = model(x)
    assert logits.shape == (3,)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([0.0, 1.0, 1.0]))
    if getattr(model, "predicts_seam", False):  # its seam head learns from the seam loss only
        logits_too, seam = model(x, seam=True)
        assert logits_too.shape == (3,)
        assert seam.shape == (3, 8, 8)  # one seam logit per 8x8 input block
        loss = loss + torch.sigmoid(seam).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("size", [128, 160])
def test_specs_accept_the_supported_crop_sizes(size):
    for name in list_detectors():
        spec = detector_spec(name)
        assert len(spec.mean) == 3 and len(spec.std) == 3
        x = torch.zeros(1, spec.in_channels, size, size)
        assert create_detector(name).eval()(x).shape == (1,)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="meso4"):
        create_detector("no_such_net")


def test_duplicate_registration_is_refused():
    def meso4() -> torch.nn.Module:
        return torch.nn.Identity()

    with pytest.raises(ValueError, match="already registered"):
        register_detector(meso4)


def test_register_with_options_and_create_with_kwargs(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # keep the toy out of other tests

    @register_detector(name="_test_linear", input_size=32)
    def _factory(hidden: int = 2) -> torch.nn.Module:
        """Toy detector for the registry test."""
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, hidden))

    spec = detector_spec("_test_linear")
    assert spec.input_size == 32 and spec.description == "Toy detector for the registry test."
    assert create_detector("_test_linear", hidden=5)[1].out_features == 5


def test_import_is_lazy():
    code = "import sys, detector; assert 'torch' not in sys.modules and 'detector.models.meso' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
