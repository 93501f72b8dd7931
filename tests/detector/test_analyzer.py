"""The CNN detector inside a scan: sampled crops, the face hull for mask-reading models, heatmaps."""

from pathlib import Path

import numpy as np
import pytest
import torch

from detector.analyzer import DetectorAnalyzer
from detector.io import load_model, save_model
from detector.registry import create_detector, detector_spec
from fakescope.scan.pipeline import ScanConfig, scan_video


def _saved(arch: str, out: Path) -> Path:
    torch.manual_seed(0)
    spec = detector_spec(arch)
    config = {"arch": arch, "kwargs": {}, "input_size": 64, "crop_size": 96, "mean": list(spec.mean),
              "std": list(spec.std), "threshold": 0.5}
    return save_model(create_detector(arch).eval(), config, out)


@pytest.mark.slow
def test_a_mask_reading_detector_scores_a_video_from_its_face_hulls(talking_head: Path, tmp_path: Path):
    det = load_model(_saved("meso4_contrast_mask", tmp_path / "m"))
    analyzer = DetectorAnalyzer(det, every=4)
    seen: list[np.ndarray] = []
    real_predict = det.predict_logits

    def spy(crops: np.ndarray, batch_size: int = 64, bf16: bool | None = None, masks: np.ndarray | None = None):
        seen.append(masks)
        return real_predict(crops, batch_size, bf16, masks)

    object.__setattr__(det, "predict_logits", spy)  # frozen dataclass: patch this instance only
    result = scan_video(talking_head, ScanConfig(detector=str(tmp_path / "m"), progress=False), analyzers=[analyzer])
    per_frame = result.record["analyzers"]["detector"]["per_frame"]
    assert len(per_frame) >= 3 and all(0 <= p <= 1 for _, p in per_frame)
    masks = np.concatenate(seen)
    assert masks.shape[1:] == (96, 96) and len(masks) == len(per_frame)
    inside = masks.reshape(len(masks), -1).mean(axis=1)
    assert np.all((inside > 0.15) & (inside < 0.9))  # a face hull, not an empty or full plane
    keys = analyzer.key_frames()
    assert keys and all(k.overlay is not None and k.overlay.shape == (96, 96, 3) for k in keys)
