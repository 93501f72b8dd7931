"""Temporal consistency features on a real talking head and on copies changed the way generators change faces."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.analyzers import CropCache
from fakescope.core.faces import FacePipeline
from fakescope.core.types import FaceObservation
from fakescope.core.video import probe
from forensics.temporal import FEATURE_NAMES, TemporalAnalyzer, track_features

Transform = "callable(frame, faces, rng) -> frame"


def _features(path: Path, transform=None, frames: int = 120) -> tuple[dict, TemporalAnalyzer]:  # noqa: ANN001
    info = probe(path)
    an = TemporalAnalyzer(use_model=False)
    an.start(info)
    crops = CropCache()
    rng = np.random.default_rng(0)
    for index, ts, frame, faces in FacePipeline().run(path, info):
        if index >= frames:
            break
        if transform is not None and faces:
            frame = transform(frame, faces, rng)
        crops.reset(index, frame)
        an.update(index, ts, frame, faces, crops)
    (tid,) = an._tracks
    return an.features(tid), an


def _face_mask(frame: np.ndarray, f: FaceObservation, points: slice = slice(0, 68)) -> np.ndarray:
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(f.landmarks[points]).astype(np.int32)), 1)
    return mask.astype(bool)


def _flicker(frame: np.ndarray, faces: list[FaceObservation], rng: np.random.Generator) -> np.ndarray:
    """Fresh fine texture noise inside the face every frame, as a generator redrawing the face leaves."""
    out = frame.astype(np.int16)
    m = _face_mask(frame, faces[0])
    noise = cv2.GaussianBlur(rng.normal(0, 10, frame.shape[:2]).astype(np.float32), (0, 0), 1.0)  # std about 3 levels
    out[m] += np.round(noise[m])[:, None].astype(np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def real(talking_head: Path) -> dict:
    return _features(talking_head)[0]


def test_features_of_a_real_track(real: dict) -> None:
    assert set(real) == set(FEATURE_NAMES) and all(np.isfinite(v) for v in real.values())
    assert real["id_median"] < 0.3  # one person all along: dlib distances well under the 0.6 same-person bound


def test_face_texture_that_flickers_against_a_steady_background_is_measured(talking_head: Path, real: dict) -> None:
    fake = _features(talking_head, _flicker)[0]
    assert fake["face_vs_border"] > real["face_vs_border"] + 0.3
    assert fake["mouth_vs_border"] > real["mouth_vs_border"] + 0.1


def test_short_tracks_are_insufficient(talking_head: Path) -> None:
    _, an = _features(talking_head, frames=20)
    (ev,) = an.finish().values()
    assert ev.status == "insufficient" and ev.score == 0.5 and ev.details["per_frame"] == []


def test_identity_drift_features_grow_with_the_spread_of_embeddings() -> None:
    flat = [np.full(50, v) for v in (1.0, 1.0, 1.0, 0.01, 0.01)]
    same = track_features(*flat, np.full(6, 0.1))
    drifting = track_features(*flat, np.array([0.1, 0.1, 0.1, 0.5, 0.6, 0.7]))
    assert drifting["id_p90"] > same["id_p90"] + 0.3 and drifting["id_median"] > same["id_median"]


def test_training_fits_on_the_train_split_and_measures_on_held_out_identities() -> None:
    from forensics.train_temporal import train

    rng = np.random.default_rng(0)

    def row(identity: str, split: str, method: str) -> dict:
        fake = method != "real"
        feats = {k: rng.normal(0, 1) for k in FEATURE_NAMES}
        if method == "flicker":
            feats["face_vs_border"] += 2.0
        if method == "reenact":
            feats["jitter_ratio"] += 2.0
        return {"path": f"{identity}_{method}.mp4", "label": int(fake), "method": method, "identity": identity,
                "split": split, "features": feats}

    rows = [row(f"p{i}", "train" if i < 12 else "test", m) for i in range(20) for m in ("real", "flicker", "reenact")
            for _ in range(2)]
    with pytest.raises(ValueError, match="real and fake items"):
        train([r for r in rows if r["label"] == 0])
    model, m = train(rows)
    assert m["heldout_auc"] > 0.8 and set(m["per_method"]) == {"flicker", "reenact"}
    assert m["identities_train"] == 12 and m["identities_heldout"] == 8
    # a model that never saw reenactment does not catch it by its jitter alone
    assert m["leave_one_method_out"]["reenact"] < m["per_method"]["reenact"]
