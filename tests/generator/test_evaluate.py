from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import generator.evaluate as evaluate_mod
from fakescope.core.embedding import face_descriptor
from fakescope.core.faces import FacePipeline
from generator.evaluate import evaluate_swap, expression_error, eye_aspect_ratio, mouth_aspect_ratio
from generator.faceset import FaceSet
from generator.models import Preset
from generator.synthetic import MEAN_SHAPE
from generator.train import train_facesets

CLIP = Path(__file__).resolve().parents[1] / "fixtures" / "generator_clip.mp4"


def test_expression_measures() -> None:
    lm = MEAN_SHAPE * 100
    assert expression_error(lm, lm) == 0.0
    shifted = lm.copy()
    shifted[48:68, 1] += 10  # mouth moved by 10 px
    iod = np.linalg.norm(lm[36] - lm[45])
    assert expression_error(lm, shifted) == pytest.approx(10 * 20 / 32 / iod, rel=1e-4)
    opened = lm.copy()
    opened[65:68, 1] += 5
    assert mouth_aspect_ratio(opened) > mouth_aspect_ratio(lm)
    closed = lm.copy()
    closed[[37, 38, 43, 44], 1] = closed[[41, 40, 47, 46], 1]
    assert eye_aspect_ratio(closed) < 0.2 * eye_aspect_ratio(lm)


def test_dlib_embedding_is_stable_for_the_same_face() -> None:
    frames = FacePipeline().run(CLIP)
    _, _, f0, faces0 = next(frames)
    for _ in range(10):
        _, _, f1, faces1 = next(frames)
    e0, e1 = face_descriptor(f0, faces0[0].landmarks), face_descriptor(f1, faces1[0].landmarks)
    assert e0.shape == (128,) and e0.dtype == np.float32
    assert 0.0 < np.linalg.norm(e0 - e1) < 0.4  # same person a third of a second later (dlib: < 0.6 = same)


@pytest.mark.slow
def test_evaluating_a_video_against_itself(
    tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    # dlib's network costs ~0.2 s per face here; this test is about the bookkeeping, so a cheap
    # stand-in embedding (the face's mean colour) is used. The real one is tested above.
    def fake_descriptor(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        x0, y0 = landmarks.min(0).astype(int)
        x1, y1 = landmarks.max(0).astype(int)
        return frame[y0:y1, x0:x1].reshape(-1, 3).mean(0).astype(np.float32)

    monkeypatch.setattr(evaluate_mod, "face_descriptor", fake_descriptor)
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=1, progress=False)
    refs = {"alice": CLIP, "bob": CLIP}
    r = evaluate_swap(run, CLIP, CLIP, "alice", "bob", tmp_path / "eval", references=refs, reference_faces=2,
                      max_frames=3, strip_frames=2, progress=False)
    # An unchanged video keeps every expression exactly and is exactly as near the target as the input.
    assert r.frames_with_face == r.frames_compared == 3
    assert r.expression_error == 0.0 and r.mouth_open_error == 0.0 and r.eye_open_error == 0.0
    assert r.fraction_nearer_target == r.baseline_fraction_nearer_target
    assert 0.0 <= r.recon_ssim <= 1.0
    assert r.sharpness_ratio == pytest.approx(1.0)  # the same frames are exactly as sharp
    # The target's references are this clip too: its "swap" is as detailed as the target's faces,
    # and those as the input; the two factors make up the ratio.
    assert r.sharpness_vs_target_faces == pytest.approx(1.0, rel=0.25)
    assert r.target_faces_vs_input == pytest.approx(1.0, rel=0.25)
    assert r.sharpness_vs_target_faces * r.target_faces_vs_input == pytest.approx(r.sharpness_ratio, rel=0.1)
    strip = cv2.imread(str(r.strip))
    assert strip is not None and strip.shape[0] == 512 and strip.shape[1] > 256
    saved = json.loads(r.metrics_json.read_text())
    assert saved["frames_compared"] == 3 and saved["target_identity"] == "bob"


def test_unknown_identity(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=1, progress=False)
    with pytest.raises(ValueError, match="knows"):
        evaluate_swap(run, CLIP, CLIP, "alice", "carol", tmp_path / "eval", progress=False)


def test_a_blurred_swap_measures_less_sharp_than_its_input() -> None:
    from generator.evaluate import face_sharpness_ratio

    _, _, frame, faces = next(FacePipeline().run(CLIP))
    lm = faces[0].landmarks
    mild, strong = (face_sharpness_ratio(frame, cv2.GaussianBlur(frame, (0, 0), s), lm) for s in (0.8, 2.5))
    assert face_sharpness_ratio(frame, frame, lm) == pytest.approx(1.0)
    assert 0.0 < strong < mild < 1.0


def test_a_person_filmed_soft_has_less_detail_to_reach(tmp_path: Path) -> None:
    """A decoder can only draw the detail its training faces have: the reference detail of a
    blurred copy of the same face is lower, and sharpness_vs_target_faces is measured against it."""
    from generator.evaluate import face_detail, identity_detail

    _, _, frame, faces = next(FacePipeline().run(CLIP))
    sharp, soft = tmp_path / "sharp.png", tmp_path / "soft.png"
    cv2.imwrite(str(sharp), frame)
    cv2.imwrite(str(soft), cv2.GaussianBlur(frame, (0, 0), 1.5))
    d_sharp, d_soft = identity_detail([sharp], 1), identity_detail([soft], 1)
    assert d_sharp == pytest.approx(face_detail(frame, faces[0].landmarks), rel=0.05)
    assert 0.0 < d_soft < 0.5 * d_sharp
