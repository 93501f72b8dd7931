"""A detector's logit is kept for crops like its training data and shrunk toward 0.5 for unlike ones."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.familiarity import Familiarity, crop_features, fit_familiarity
from detector.io import load_model, save_model
from detector.registry import create_detector


def test_shrink_keeps_familiar_and_shrinks_far_crops() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, (500, 16))
    fam = fit_familiarity(train)
    near, far = fam.distance(rng.normal(0, 1, (200, 16))), fam.distance(rng.normal(3, 1, (200, 16)))
    assert np.mean(fam.shrink(near) == 1.0) > 0.9
    assert np.all(fam.shrink(far) < 0.5) and np.all(fam.shrink(far) > 0)
    again = Familiarity.from_dict(json.loads(json.dumps(fam.to_dict())))
    assert np.allclose(again.distance(train[:5]), fam.distance(train[:5]), atol=1e-4)


@pytest.fixture(scope="module")
def faces_and_noise() -> tuple[np.ndarray, np.ndarray]:
    from fakescope.core.video import iter_frames
    from tests.conftest import FIXTURES

    frames = [f for i, _, f in iter_frames(FIXTURES / "talking_head.mp4") if i < 60]
    rng = np.random.default_rng(1)
    faces = np.stack([np.ascontiguousarray(f[150:246, 170:266]) for f in frames])  # 96 px patches of the face
    noise = rng.integers(0, 256, (30, 96, 96, 3), dtype=np.uint8)
    return faces, noise


def test_a_model_with_familiarity_shrinks_logits_of_unlike_crops(tmp_path: Path, faces_and_noise) -> None:  # noqa: ANN001
    faces, noise = faces_and_noise
    torch.manual_seed(0)
    d = save_model(create_detector("meso4"), {"arch": "meso4", "kwargs": {}, "input_size": 64, "crop_size": 96,
                                              "mean": [0.5] * 3, "std": [0.5] * 3, "name": "fam"}, tmp_path / "m")
    det = load_model(d)
    fam = fit_familiarity(crop_features(det, faces))
    config = json.loads((Path(d) / "config.json").read_text())
    config["familiarity"] = fam.to_dict()
    (Path(d) / "config.json").write_text(json.dumps(config))
    det = load_model(d)
    raw, dist = det.predict_logits_and_distance(noise)
    assert np.all(dist > fam.edge)
    shrunk = det.predict_logits(noise)
    assert np.all(np.abs(shrunk) < np.abs(raw)) and np.all(np.sign(shrunk) == np.sign(raw))
    raw_faces, dist_faces = det.predict_logits_and_distance(faces)
    assert np.mean(dist_faces <= fam.edge) >= 0.9
    assert np.allclose(det.predict_logits(faces)[dist_faces <= fam.edge], raw_faces[dist_faces <= fam.edge])


def test_a_broken_familiarity_block_is_refused_on_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    d = save_model(create_detector("meso4"), {"arch": "meso4", "kwargs": {}, "input_size": 64, "crop_size": 96,
                                              "mean": [0.5] * 3, "std": [0.5] * 3, "name": "bad",
                                              "familiarity": {"mean": [0.0], "std": [0.0], "edge": 1.0,
                                                              "median": 0.5}}, tmp_path / "m")
    with pytest.raises(ValueError, match="familiarity"):
        load_model(d)
