from pathlib import Path

import numpy as np
import pytest
import torch

from detector.io import load_model, save_model
from detector.registry import create_detector
from generator.attacks import attack_crops


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    torch.manual_seed(0)
    model = create_detector("meso4")
    out = save_model(model, {"arch": "meso4", "kwargs": {}, "input_size": 64, "crop_size": 80,
                             "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}, tmp_path_factory.mktemp("det"))
    return load_model(Path(out))


@pytest.fixture(scope="module")
def target(tiny_detector):  # noqa: ANN001, ANN201
    return tiny_detector.attack_target()


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_attack_lowers_the_detector_score_within_epsilon(tiny_detector, target, method: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    crops = rng.integers(40, 215, (6, 80, 80, 3), dtype=np.uint8)
    before = tiny_detector.predict_logits(crops)
    adv = attack_crops(target, crops, eps=4, method=method, steps=8)
    after = tiny_detector.predict_logits(adv)
    assert np.abs(adv.astype(int) - crops).max() <= 4 + 1  # L-inf ball (+1 for uint8 rounding)
    assert (after < before).mean() >= 0.8
    assert after.mean() < before.mean()


def test_unknown_attack_is_rejected(target) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="fgsm"):
        attack_crops(target, np.zeros((1, 80, 80, 3), np.uint8), 2, method="cw")
