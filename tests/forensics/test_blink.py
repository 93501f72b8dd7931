from __future__ import annotations

import numpy as np
import pytest

from fakescope.core.types import FaceObservation, VideoInfo
from forensics.blink import (
    BlinkAnalyzer,
    BlinkConfig,
    BlinkEvent,
    blink_score,
    detect_blinks,
    eye_aspect_ratio,
    frame_ear,
    head_pose_proxy,
)

FPS = 30.0
PROFILE = (0.6, 0.2, 0.05, 0.3, 0.7)  # eye openness over a 5-frame blink
# frames whose openness is below half the dip depth: (1 + 0.05) / 2 = 0.525 -> offsets 1..3
EXPECTED_OFFSETS = (1, 3)


def with_openness(lm: np.ndarray, openness: float) -> np.ndarray:
    """Landmarks with both eyes' lids moved towards each eye's mid line (EAR scales linearly)."""
    out = lm.copy()
    for eye in (range(36, 42), range(42, 48)):
        pts = out[list(eye)]
        mid = (pts[0, 1] + pts[3, 1]) / 2.0
        for k in (1, 2, 4, 5):
            pts[k, 1] = mid + (pts[k, 1] - mid) * openness
        out[list(eye)] = pts
    return out


def openness_sequence(n: int, blink_starts: list[int], rng: np.random.Generator | None = None) -> np.ndarray:
    o = np.ones(n)
    if rng is not None:
        o += rng.normal(0, 0.02, n)
    for s in blink_starts:
        o[s : s + len(PROFILE)] = PROFILE
    return o


def ears_for(face_lm: np.ndarray, openness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    res = [frame_ear(with_openness(face_lm, o)) for o in openness]
    return np.array([r[0] for r in res]), np.array([r[1] for r in res])


def test_eye_aspect_ratio_scales_with_openness(face):
    _, lm = face
    left, right = eye_aspect_ratio(lm)
    assert 0.15 < left < 0.5 and 0.15 < right < 0.5
    l2, r2 = eye_aspect_ratio(with_openness(lm, 0.5))
    # lids move vertically only, and the contour points are not exactly above each other
    assert l2 == pytest.approx(left * 0.5, rel=0.03)
    assert r2 == pytest.approx(right * 0.5, rel=0.03)


def test_synthetic_blinks_give_exact_events(face):
    _, lm = face
    starts = [60, 200, 350, 480]
    ear, valid = ears_for(lm, openness_sequence(600, starts, np.random.default_rng(0)))
    assert valid.all()
    events = detect_blinks(ear, valid, FPS, BlinkConfig())
    assert events == [BlinkEvent(s + EXPECTED_OFFSETS[0], s + EXPECTED_OFFSETS[1]) for s in starts]


def test_no_blink_no_event_and_slow_lowering_is_not_a_blink(face):
    _, lm = face
    o = openness_sequence(300, [], np.random.default_rng(1))
    o[100:160] = np.linspace(1.0, 0.5, 60)  # gaze lowering: lids sink over two seconds
    o[160:220] = 0.5
    ear, valid = ears_for(lm, o)
    assert detect_blinks(ear, valid, FPS) == []


def test_short_invalid_gap_is_bridged_long_gap_aborts(face):
    _, lm = face
    ear, valid = ears_for(lm, openness_sequence(300, [100, 200]))
    valid = valid.copy()
    valid[104] = False  # one lost frame while the first blink reopens (<= max_gap_s)
    valid[190:203] = False  # face lost from before the second blink until its middle
    events = detect_blinks(ear, valid, FPS)
    assert events == [BlinkEvent(101, 103)]


def test_strong_yaw_marks_frame_invalid(face):
    _, lm = face
    assert frame_ear(lm)[1]
    turned = lm.copy()
    iod = np.linalg.norm(lm[45] - lm[36])
    turned[27:36, 0] += 0.5 * iod  # nose far off the eye midpoint: head turned about 45 degrees
    yaw, _ = head_pose_proxy(turned)
    assert abs(yaw) > BlinkConfig().max_yaw
    assert not frame_ear(turned)[1]
    nan_lm = lm.copy()
    nan_lm[40] = np.nan
    assert not frame_ear(nan_lm)[1]


def test_blink_score_is_smooth_and_follows_norms():
    minute = 60.0

    def events_at_rate(per_min: float, seconds: float) -> list[BlinkEvent]:
        n = int(per_min * seconds / 60)
        step = int(seconds * FPS / max(n, 1))
        return [BlinkEvent(k * step + 10, k * step + 14) for k in range(n)]

    normal, status, _ = blink_score(events_at_rate(17, minute), minute, FPS)
    none, _, parts = blink_score([], minute, FPS)
    few, _, _ = blink_score(events_at_rate(3, minute), minute, FPS)
    assert status == "ok"
    assert normal < 0.25 < few < none
    assert none > 0.85 and parts["rate_z"] < -3
    # smooth: a small change in usable time moves the score a little, never a jump
    a, _, _ = blink_score([], 30.0, FPS)
    b, _, _ = blink_score([], 31.0, FPS)
    assert 0 < b - a < 0.05


def test_analyzer_insufficient_on_two_second_clip_still_reports_events(face):
    _, lm = face
    o = openness_sequence(60, [25])
    analyzer = BlinkAnalyzer()
    analyzer.start(VideoInfo("clip.mp4", 60, FPS, 160, 160, 2.0))
    frame = np.zeros((160, 160, 3), np.uint8)
    for i, v in enumerate(o):
        obs = FaceObservation(i, i / FPS, 0, (0, 0, 160, 160), with_openness(lm, v))
        analyzer.update(i, i / FPS, frame, [obs], None)
    ev = analyzer.finish()[0]
    assert ev.analyzer == "blink"
    assert ev.status == "insufficient"
    assert ev.score == 0.5
    assert ev.details["blinks"] == 1
    assert ev.details["events"] == [{"start_frame": 26, "end_frame": 28}]
    assert ev.details["rate_per_min"] is None
    assert ev.details["usable_seconds"] == pytest.approx(2.0)
    assert len(ev.details["ear"]) == 60


def test_analyzer_ok_on_long_clip_and_missing_frames_are_invalid(face):
    _, lm = face
    n = int(20 * FPS)
    starts = [50, 170, 300, 420, 540]
    o = openness_sequence(n, starts, np.random.default_rng(3))
    analyzer = BlinkAnalyzer()
    analyzer.start(VideoInfo("clip.mp4", n, FPS, 160, 160, n / FPS))
    frame = np.zeros((8, 8, 3), np.uint8)
    for i, v in enumerate(o):
        if 250 <= i < 280:  # face lost for a second
            analyzer.update(i, i / FPS, frame, [], None)
            continue
        analyzer.update(i, i / FPS, frame, [FaceObservation(i, i / FPS, 7, (0, 0, 160, 160), with_openness(lm, v))], None)
    ev = analyzer.finish()[7]
    assert ev.status == "ok"
    assert [e["start_frame"] for e in ev.details["events"]] == [s + 1 for s in starts]
    assert ev.details["usable_seconds"] == pytest.approx((n - 30) / FPS)
    assert ev.details["rate_per_min"] == pytest.approx(5 / ((n - 30) / FPS / 60))
    assert ev.details["intervals_s"] == pytest.approx([(b - a) / FPS for a, b in zip(starts, starts[1:], strict=False)], abs=1e-3)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="fps"):
        detect_blinks(np.ones(10), np.ones(10, bool), 0)
    with pytest.raises(ValueError, match="equal length"):
        detect_blinks(np.ones(10), np.ones(9, bool), 30)
    with pytest.raises(ValueError, match="68x2"):
        eye_aspect_ratio(np.zeros((5, 2)))
