"""Fit a trained detector's familiarity statistics (detector.familiarity) from its training data.

    fakescope detector familiarity MODEL_DIR --data TESTSET_DIR ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from detector.data import load_crops
from detector.familiarity import crop_features, fit_familiarity
from detector.io import CONFIG_FILE, load_model
from fakescope.core.atomicio import write_text_atomic


def fit_model_familiarity(model_dir: Any, testsets: list[Any], max_frames_per_video: int = 8) -> dict[str, Any]:
    """Fit the familiarity statistics of a model directory on its test sets' train-split crops and
    write them into its config.json (atomically). Returns the distances' medians per split, for the log."""
    det = load_model(model_dir)
    data = load_crops([Path(t) for t in testsets], det.crop_size, max_frames_per_video=max_frames_per_video)
    train = data.splits["train"]
    fam = fit_familiarity(crop_features(det, train.images, train.masks if det.needs_mask else None))
    out: dict[str, Any] = {"train_crops": len(train), "edge": fam.edge, "median": fam.median}
    for name in ("val", "test"):
        s = data.splits[name]
        if len(s):
            d = fam.distance(crop_features(det, s.images, s.masks if det.needs_mask else None))
            out[f"{name}_median"], out[f"{name}_beyond_edge"] = float(np.median(d)), float(np.mean(d > fam.edge))
    path = Path(det.path) / CONFIG_FILE
    config = json.loads(path.read_text())
    config["familiarity"] = {**fam.to_dict(), "fitted_on": data.manifest_hash}
    write_text_atomic(path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return out
