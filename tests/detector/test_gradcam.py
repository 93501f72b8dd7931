import numpy as np
import pytest
import torch
from torch import nn

from detector.gradcam import explain_crops, find_last_conv, grad_cam, overlay_heatmap
from detector.io import load_model, save_model
from detector.registry import create_detector, detector_spec, list_detectors


class RedDetector(nn.Module):
    """Toy detector that answers 'fake' for red pixels: a 1x1 conv (R - G/2 - B/2), ReLU, global
    mean, then a 1x1 conv on the pooled map (like squeeze-excitation) that Grad-CAM must skip."""

    def __init__(self) -> None:
        super().__init__()
        self.detect = nn.Conv2d(3, 1, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.scale = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.detect.weight.copy_(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))
            self.scale.weight.fill_(3.0)
            self.scale.bias.fill_(-1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.pool(torch.relu(self.detect(x)))).flatten()


def test_layer_choice_skips_convs_on_pooled_maps():
    model = RedDetector()
    assert find_last_conv(model, 32) is model.detect


def test_heatmap_highlights_the_region_the_model_responds_to():
    rng = np.random.default_rng(0)
    x = torch.full((2, 3, 48, 48), 0.4) + torch.from_numpy(rng.normal(0, 0.01, (2, 1, 48, 48))).float()
    boxes = [(5, 17, 30, 42), (28, 40, 6, 18)]  # y0, y1, x0, x1 of a red square per image
    for i, (y0, y1, x0, x1) in enumerate(boxes):
        x[i, 0, y0:y1, x0:x1] = 1.0
    maps = grad_cam(RedDetector(), x)
    assert maps.shape == (2, 48, 48) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() == pytest.approx(1.0)
    for m, (y0, y1, x0, x1) in zip(maps, boxes, strict=True):
        inside = np.zeros_like(m, dtype=bool)
        inside[y0:y1, x0:x1] = True
        assert m[inside].mean() > 0.8
        assert m[~inside].mean() < 0.1


@pytest.mark.parametrize("name", list_detectors())
def test_every_registered_detector_gets_a_heatmap(name):
    torch.manual_seed(0)
    model = create_detector(name).train()
    maps = grad_cam(model, torch.randn(2, detector_spec(name).in_channels, 64, 64))
    assert maps.shape == (2, 64, 64)
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert model.training  # mode restored


def test_explain_crops_and_overlay_work_at_crop_resolution(tmp_path):
    spec = detector_spec("meso4")
    config = {"arch": "meso4", "kwargs": {}, "input_size": 64, "mean": list(spec.mean), "std": list(spec.std)}
    save_model(create_detector("meso4"), config, tmp_path / "m")
    det = load_model(tmp_path / "m")
    crops = np.random.default_rng(1).integers(0, 256, (2, 80, 80, 3), dtype=np.uint8)
    maps = explain_crops(det, crops)
    assert maps.shape == (2, 80, 80)
    over = overlay_heatmap(crops[0], maps[0])
    assert over.shape == crops[0].shape and over.dtype == np.uint8
    with pytest.raises(ValueError, match="uint8"):
        overlay_heatmap(crops[0].astype(np.float32), maps[0])
