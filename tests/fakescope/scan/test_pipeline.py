from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.video import iter_frames
from fakescope.scan.pipeline import ScanConfig, scan_video
from tests.conftest import FIXTURES, needs_ffmpeg, write_video

REQUIRED = {"file", "sha256", "verdict", "fake_probability", "video", "faces", "analyzers", "timing", "versions"}


@pytest.mark.slow
def test_scan_record_follows_design_contract(talking_head: Path) -> None:
    rec = scan_video(talking_head, ScanConfig(progress=False)).record
    assert REQUIRED <= rec.keys()
    assert rec["verdict"] in {"real", "fake", "inconclusive"}
    assert 0.0 <= rec["fake_probability"] <= 1.0
    assert rec["video"] == {"frames": 192, "fps": 30.0, "width": 436, "height": 500, "duration_s": 6.4, "rotation": 0}
    assert rec["faces"]["tracks"] == 1 and rec["faces"]["frames_with_face"] >= 190
    assert rec["faces"]["frames_judged"] >= 185
    assert rec["faces"]["frames_judged"] + sum(rec["faces"]["not_judged"].values()) == 192
    assert set(rec["timing"]) == {"seconds", "frames_per_second"}
    assert len(rec["sha256"]) == 64
    for ev in rec["analyzers"].values():
        assert ev["status"] in {"ok", "insufficient"} and 0.0 <= ev["score"] <= 1.0


@pytest.mark.slow
def test_rescan_gives_same_numbers(talking_head: Path) -> None:
    a = scan_video(talking_head, ScanConfig(progress=False)).record
    b = scan_video(talking_head, ScanConfig(progress=False)).record
    assert a["fake_probability"] == b["fake_probability"]
    assert a["analyzers"] == b["analyzers"]


def _small_face_clip(path: Path, face_px: float, frames: int = 20) -> Path:
    """The talking head shrunk so its face is ``face_px`` tall, in a plain 360x640 portrait frame."""
    out = []
    for i, _, f in iter_frames(FIXTURES / "talking_head.mp4"):
        if i >= frames:
            break
        small = cv2.resize(f, None, fx=face_px / 205, fy=face_px / 205, interpolation=cv2.INTER_AREA)
        canvas = np.full((640, 360, 3), 140, np.uint8)
        canvas[200:200 + small.shape[0], 150:150 + small.shape[1]] = small
        out.append(canvas)
    return write_video(path, out)


def test_portrait_clip_with_a_small_face_is_judged_and_rotation_reported() -> None:
    for name, rotation in (("portrait_small_face.mp4", 0), ("portrait_small_face_rot90.mp4", 90)):
        rec = scan_video(FIXTURES / name, ScanConfig(progress=False), analyzers=[]).record
        assert rec["video"]["rotation"] == rotation and (rec["video"]["width"], rec["video"]["height"]) == (540, 960)
        assert rec["faces"]["frames_with_face"] == 12
        # judged from the frame a second detection confirmed the face (the first 3 are not trusted yet)
        assert rec["faces"]["frames_judged"] == 9
        assert rec["faces"]["not_judged"] == {"not_found": 0, "too_small": 0, "turned": 0, "low_confidence": 3}


@pytest.mark.slow
def test_a_face_too_small_to_judge_is_tracked_but_skipped_and_counted(tmp_path: Path) -> None:
    """A 34 px face: found and tracked, but below the quality gate, so no analyzer scores it."""
    clip = _small_face_clip(tmp_path / "small.mp4", 34)
    config = ScanConfig(progress=False, analyzers=("detector", "edges", "blink"))
    rec = scan_video(clip, config).record
    faces = rec["faces"]
    assert faces["frames_with_face"] == 20 and faces["tracks"] == 1
    assert faces["frames_judged"] == 0
    assert faces["not_judged"]["too_small"] == 20
    assert faces["frames_judged"] + sum(faces["not_judged"].values()) == rec["video"]["frames"]
    an = rec["analyzers"]
    assert an["detector"]["per_frame"] == [] and an["edges"]["per_frame"] == [] and an["blink"]["ear"] == []
    assert all(a["status"] == "insufficient" for a in an.values())
    assert rec["verdict"] == "inconclusive"
    (track,) = rec["tracks"]
    assert track["frames_judged"] == 0 and track["not_judged"]["too_small"] == 20


@pytest.mark.slow
def test_every_track_is_reported_with_its_evidence(talking_head: Path, tmp_path: Path) -> None:
    frames = [np.hstack([f, cv2.flip(f, 1)]) for i, _, f in iter_frames(talking_head) if i < 45]
    clip = write_video(tmp_path / "two.mp4", frames, fps=30)
    rec = scan_video(clip, ScanConfig(progress=False, analyzers=("detector", "blink"))).record
    assert rec["faces"]["tracks"] == 2 and len(rec["tracks"]) == 2
    for t in rec["tracks"]:
        assert t["frames_judged"] >= 40 and set(t["analyzers"]) == {"detector", "blink"}
        assert t["analyzers"]["detector"]["status"] in ("ok", "insufficient")
    assert rec["selected_track"] in {t["track_id"] for t in rec["tracks"]}


@pytest.mark.slow
@needs_ffmpeg
def test_speech_clip_gets_an_audio_visual_sync_verdict_and_its_plot(tmp_path: Path) -> None:
    from fakescope.report.scan_report import write_scan_report

    result = scan_video(FIXTURES / "speech_head.mp4", ScanConfig(progress=False))
    av = result.record["analyzers"]["avsync"]
    assert av["status"] == "ok" and {"score", "lag_ms", "correlation", "disagreeing_windows"} <= av.keys()
    assert abs(av["lag_ms"]) <= 150
    html = write_scan_report([result], tmp_path / "r.html").read_text()
    assert 'alt="mouth and speech"' in html and "best lag" in html
    silent = scan_video(FIXTURES / "talking_head.mp4", ScanConfig(progress=False, analyzers=("avsync",))).record
    assert silent["analyzers"]["avsync"]["status"] == "insufficient"
    assert silent["analyzers"]["avsync"]["lag_ms"] is None
