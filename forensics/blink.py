"""Blink analysis from 68-point landmarks: eye aspect ratio, blink events, and a blink-norm score.

Why blinks: early face-swap generators were trained on photos with open eyes and blinked far too
rarely (Li et al., "In Ictu Oculi", 2018); later ones can still blink with odd timing or length.
A human blinks about 17 times per minute at rest, 26 in conversation and 4.5 while reading, with
inter-blink intervals mostly between 2 and 10 s and blinks lasting 100-400 ms (Bentivoglio et al.,
1997). The score says how far one face track strays from those norms; it is weak evidence on its
own and is meant to be fused with the other analyzers.

Conventions: ``left``/``right`` are the subject's own eyes (dlib points 42-47 and 36-41). Frame
indices are 0-based decoded-frame indices; a blink event spans the frames whose EAR is below half
the blink's depth (full width at half minimum), which matches how blink duration is measured and
how a person marking frames by eye labels a blink.

Thresholds were chosen on benchmarks/blink_annotations.csv (44 hand-labelled blinks); see
benchmarks/blink_accuracy.py for the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fakescope.core.analyzers import AnalyzerBase
from fakescope.core.types import Evidence, FaceObservation, VideoInfo

# dlib 68-point indices of the six eye contour points, in the (p1..p6) order of Soukupova & Cech.
RIGHT_EYE = (36, 37, 38, 39, 40, 41)
LEFT_EYE = (42, 43, 44, 45, 46, 47)

# Human norms (Bentivoglio et al., 1997) used by blink_score.
NORM_RATE_PER_MIN = 17.0
NORM_INTERVAL_S = (2.0, 10.0)
NORM_DURATION_S = (0.10, 0.40)


@dataclass(frozen=True)
class BlinkConfig:
    """Knobs of the blink detector and of the score.

    Thresholds are ratios of a per-track baseline (the running open-eye EAR) so that narrow and
    wide eyes, and landmark models with different biases, are handled alike.
    """

    close_ratio: float = 0.70  # EAR below baseline * close_ratio: the eye is closing (a blink starts)
    open_ratio: float = 0.85  # EAR back above baseline * open_ratio: the eye has reopened
    min_close_speed: float = 0.20  # EAR/baseline lost within 67 ms while closing: lids drop fast in a blink
    min_duration_s: float = 0.03  # one frame at 30 fps: fast blinks on decimated video last one frame
    max_duration_s: float = 0.80  # longer closures are deliberate eye closing, not blinks
    baseline_window_s: float = 6.0  # centred window of the running baseline
    baseline_percentile: float = 50.0  # blink frames are a few % of a window: the median ignores them
    max_gap_s: float = 0.10  # invalid frames bridged inside one blink; longer gaps abort it
    max_yaw: float = 0.35  # |yaw proxy| above this: eyes foreshortened, EAR unreliable
    max_pitch: float = 0.35  # |pitch proxy| deviation above this: looking far up/down
    min_eye_width_px: float = 6.0  # below this, landmark noise dominates the EAR
    min_usable_s: float = 10.0  # less usable face time than this: status 'insufficient'
    prior_log_sd: float = 0.9  # spread of human blink rates on a log scale (see blink_score)


@dataclass(frozen=True)
class BlinkEvent:
    start_frame: int
    end_frame: int

    def as_json(self) -> dict[str, int]:
        return {"start_frame": int(self.start_frame), "end_frame": int(self.end_frame)}


def _eye_ear(pts: np.ndarray) -> float:
    p1, p2, p3, p4, p5, p6 = pts
    horizontal = float(np.linalg.norm(p1 - p4))
    if horizontal <= 1e-6:
        return float("nan")
    return float((np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)) / (2.0 * horizontal))


def _check_landmarks(landmarks68: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks68, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"expected 68x2 dlib landmarks, got shape {pts.shape}; pass FaceObservation.landmarks")
    return pts


def eye_aspect_ratio(landmarks68: np.ndarray) -> tuple[float, float]:
    """(left, right) eye aspect ratio (Soukupova & Cech, 2016) of the subject's own eyes.

    EAR is roughly constant while an eye is open and falls towards 0 when it closes; being a ratio
    it does not depend on face size or in-plane rotation.
    """
    pts = _check_landmarks(landmarks68)
    return _eye_ear(pts[list(LEFT_EYE)]), _eye_ear(pts[list(RIGHT_EYE)])


def head_pose_proxy(landmarks68: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) proxies from landmark geometry alone, 0 for a frontal face.

    Yaw: how far the nose tip sits off the midpoint of the outer eye corners, relative to the
    inter-ocular distance (about +-0.5 at 45 degrees). Pitch: how the nose length (bridge to tip)
    compares with the eye-to-mouth distance, minus its frontal value. Both are crude, but they only
    need to flag poses where the eye contour is foreshortened and the EAR cannot be trusted.
    """
    pts = _check_landmarks(landmarks68)
    eye_r, eye_l = pts[36], pts[45]
    axis = eye_l - eye_r
    iod = float(np.linalg.norm(axis))
    if iod <= 1e-6:
        return float("nan"), float("nan")
    ux = axis / iod
    uy = np.array([-ux[1], ux[0]])
    mid = (eye_r + eye_l) / 2.0
    yaw = float(np.dot(pts[30] - mid, ux) / iod)
    mouth = (pts[48] + pts[54]) / 2.0
    eye_mouth = float(np.dot(mouth - mid, uy))
    if abs(eye_mouth) <= 1e-6:
        return yaw, float("nan")
    nose = float(np.dot(pts[30] - pts[27], uy))
    pitch = nose / eye_mouth - 0.62  # frontal faces give about 0.62 with dlib's model
    return yaw, float(pitch)


def frame_ear(landmarks68: np.ndarray, config: BlinkConfig | None = None) -> tuple[float, bool]:
    """Mean EAR of both eyes and whether this frame's eyes are trustworthy."""
    config = config or BlinkConfig()
    pts = _check_landmarks(landmarks68)
    if not np.all(np.isfinite(pts)):
        return float("nan"), False
    left, right = eye_aspect_ratio(pts)
    ear = (left + right) / 2.0
    yaw, pitch = head_pose_proxy(pts)
    eye_w = min(np.linalg.norm(pts[42] - pts[45]), np.linalg.norm(pts[36] - pts[39]))
    valid = (
        math.isfinite(ear)
        and math.isfinite(yaw)
        and math.isfinite(pitch)
        and abs(yaw) <= config.max_yaw
        and abs(pitch) <= config.max_pitch
        and eye_w >= config.min_eye_width_px
    )
    return float(ear), bool(valid)


def running_baseline(ear: np.ndarray, valid: np.ndarray, fps: float, config: BlinkConfig) -> np.ndarray:
    """Open-eye EAR level at each frame: a high percentile of valid EAR in a centred window.

    Computed on a coarse grid (4 per second) and interpolated so a long video stays cheap. A high
    percentile rather than a mean keeps brief blinks from dragging the level down, while the window
    lets it follow slow changes (smiling, looking down, the face growing in the frame).
    """
    n = len(ear)
    out = np.full(n, np.nan)
    if n == 0 or not np.any(valid):
        return out
    vals = np.where(valid, ear, np.nan)
    half = max(1, int(round(config.baseline_window_s * fps / 2)))
    step = max(1, int(round(fps / 4)))
    centres = np.arange(0, n, step)
    if centres[-1] != n - 1:
        centres = np.append(centres, n - 1)
    levels = np.full(len(centres), np.nan)
    for k, c in enumerate(centres):
        win = vals[max(0, c - half) : c + half + 1]
        win = win[np.isfinite(win)]
        if len(win) >= max(3, half // 4):
            levels[k] = np.percentile(win, config.baseline_percentile)
    ok = np.isfinite(levels)
    if not np.any(ok):
        # too few valid frames for a local level anywhere: fall back to a global one
        return np.full(n, np.percentile(vals[np.isfinite(vals)], config.baseline_percentile))
    return np.interp(np.arange(n), centres[ok], levels[ok])


def _split_dip(ratio: np.ndarray, close_ratio: float, prominence: float) -> list[tuple[int, int]]:
    """Blinks inside one dip of EAR/baseline: one per prominent minimum, each spanning the frames
    below half its depth (full width at half minimum).

    Why: a person who blinks twice in quick succession while looking down never gets back above
    the reopen level in between, and a half-open eye on the way up would make a blink look longer
    than it is. Half-depth extents match how blink duration is measured and how a person labels it.
    """
    n = len(ratio)
    # minima: local minima below the closing level whose prominence (rise to the lower of the two
    # surrounding maxima, or to the dip's edges) is large enough
    cands = [i for i in range(n) if ratio[i] < close_ratio
             and (i == 0 or ratio[i] <= ratio[i - 1]) and (i == n - 1 or ratio[i] < ratio[i + 1])]
    minima: list[int] = []
    for i in sorted(cands, key=lambda k: ratio[k]):
        left = ratio[: i + 1]
        right = ratio[i:]
        # highest point between i and the nearest deeper (already accepted) minimum on each side
        lo = max([m for m in minima if m < i], default=-1)
        hi = min([m for m in minima if m > i], default=n)
        left_peak = float(np.max(left[lo + 1 :])) if lo >= 0 else 1.0
        right_peak = float(np.max(right[: hi - i])) if hi < n else 1.0
        if min(left_peak, right_peak) - ratio[i] >= prominence:
            minima.append(i)
    minima.sort()
    events = []
    for k, m in enumerate(minima):
        # the highest frame between two minima separates their blinks and belongs to neither
        seg_lo = 0 if k == 0 else minima[k - 1] + int(np.argmax(ratio[minima[k - 1] : m + 1])) + 1
        seg_hi = n - 1 if k == len(minima) - 1 else m + int(np.argmax(ratio[m : minima[k + 1] + 1])) - 1
        half = (1.0 + ratio[m]) / 2.0
        a = m
        while a - 1 >= seg_lo and ratio[a - 1] < half:
            a -= 1
        b = m
        while b + 1 <= seg_hi and ratio[b + 1] < half:
            b += 1
        events.append((a, b))
    return events


def detect_blinks(ear: np.ndarray, valid: np.ndarray, fps: float, config: BlinkConfig | None = None) -> list[BlinkEvent]:
    """Blink events in one face track's EAR curve (index i = i-th frame of the track).

    Hysteresis finds dips: a dip is entered when EAR falls below ``close_ratio`` x baseline and
    left when it climbs back above ``open_ratio`` x baseline, so jitter around one threshold
    cannot make several blinks of one. Each dip holds one blink per prominent minimum, spanning
    the frames below half its depth (see ``_split_dip``), kept only if the lids fell fast enough
    (``min_close_speed``): lowering the gaze or squinting narrows the eye slowly, a blink does not. Invalid frames (face lost, strong
    yaw/pitch) are skipped: a run of at most ``max_gap_s`` inside a dip is bridged, a longer one
    aborts the dip in progress, since we cannot tell whether the eye reopened meanwhile. Events
    must last between ``min_duration_s`` and ``max_duration_s`` and follow an observed open eye (a
    track that starts with closed eyes shows no blink we saw begin).
    """
    config = config or BlinkConfig()
    ear = np.asarray(ear, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if ear.shape != valid.shape or ear.ndim != 1:
        raise ValueError(f"ear and valid must be 1-D arrays of equal length, got {ear.shape} and {valid.shape}")
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, got {fps!r}; take it from the VideoInfo of the video")
    valid = valid & np.isfinite(ear)
    n = len(ear)
    if n == 0 or not np.any(valid):
        return []
    base = running_baseline(ear, valid, fps, config)
    ratio = np.where(valid, ear / np.maximum(base, 1e-6), np.nan)
    max_gap = int(math.floor(config.max_gap_s * fps + 1e-9))

    dips: list[tuple[int, int]] = []
    seen_open = False  # an open eye has been observed since the last reset
    start = -1  # first frame of the current dip (below the reopen level), -1 if none
    closed = False  # the current dip went below the closing level
    last_valid = -1
    gap = 0
    for i in range(n):
        if not valid[i]:
            gap += 1
            if gap > max_gap:
                start, closed, seen_open = -1, False, False
            continue
        gap = 0
        if ratio[i] >= config.open_ratio:
            if closed and start >= 0 and seen_open:
                dips.append((start, last_valid))
            start, closed, seen_open = -1, False, True
        else:
            if start < 0:
                start = i
            if ratio[i] < config.close_ratio:
                closed = True
        last_valid = i

    # invalid frames interpolated, only to look at shapes inside dips that bridged a short gap
    idx = np.arange(n)
    filled = np.interp(idx, idx[valid], ratio[valid])
    lag = max(1, int(round(0.067 * fps)))
    events: list[BlinkEvent] = []
    prominence = config.open_ratio - config.close_ratio
    for s, e in dips:
        for a, b in _split_dip(filled[s : e + 1], config.close_ratio, prominence):
            a, b = s + a, s + b
            dur = (b - a + 1) / fps
            if not config.min_duration_s <= dur <= config.max_duration_s:
                continue
            # closing speed: the largest fall over ``lag`` frames on the way down to the minimum.
            # The lid closes in 70-100 ms in a blink, but sinks slowly when the gaze lowers.
            m = a + int(np.argmin(filled[a : b + 1]))
            lo = max(0, a - lag - 2)
            down = filled[lo : m + 1]
            speed = float(np.max(down[:-lag] - down[lag:])) if len(down) > lag else 0.0
            if speed >= config.min_close_speed:
                events.append(BlinkEvent(int(a), int(b)))
    return events


def _log_excess(x: float, lo: float, hi: float) -> float:
    """How many factors of 2 ``x`` lies outside [lo, hi] (0 inside): a smooth, scale-free distance."""
    if x <= 0:
        x = 1e-3
    return max(0.0, math.log(lo / x), math.log(x / hi)) / math.log(2.0)


def blink_statistics(events: list[BlinkEvent], fps: float) -> tuple[list[float], list[float]]:
    """Inter-blink intervals (onset to onset) and blink durations, in seconds."""
    onsets = [e.start_frame for e in events]
    intervals = [(b - a) / fps for a, b in zip(onsets, onsets[1:], strict=False)]
    durations = [(e.end_frame - e.start_frame + 1) / fps for e in events]
    return intervals, durations


def blink_score(
    events: list[BlinkEvent],
    usable_seconds: float,
    fps: float,
    config: BlinkConfig | None = None,
) -> tuple[float, str, dict[str, Any]]:
    """P(fake) from how far blink rate, intervals and durations stray from human norms.

    Returns (score, status, parts). The score is a smooth function of a deviation D:

    - rate: estimated as (n + 0.5) / usable minutes (the +0.5 keeps zero blinks finite and makes
      short clips less damning), compared on a log scale with the resting norm of 17/min:
      z = ln(rate / 17) / prior_log_sd. Reading (4.5/min) gives z ~ -1.5 and conversation
      (26/min) z ~ +0.5 with the default spread, so we only count r = max(0, |z| - 1).
    - intervals: mean over inter-blink intervals of how many factors of 2 each lies outside
      2-10 s (0 inside); durations likewise outside 100-400 ms.
    - D = r + 0.5 * intervals + 0.5 * durations, score = 0.05 + 0.9 * sigmoid(2.5 * (D - 1)).

    A face that blinks like a person scores about 0.12; no blink in 60 s scores about 0.94; no
    blink in 10 s, about 0.46. Status is 'insufficient' when usable face time is below
    ``min_usable_s`` (a rate from a few seconds is noise); the score is then reported as 0.5 and
    the computed value is kept in ``parts['raw_score']``.
    """
    config = config or BlinkConfig()
    intervals, durations = blink_statistics(events, fps)
    minutes = max(usable_seconds, 1e-6) / 60.0
    rate_est = (len(events) + 0.5) / minutes
    z = math.log(rate_est / NORM_RATE_PER_MIN) / config.prior_log_sd
    rate_term = max(0.0, abs(z) - 1.0)
    int_term = float(np.mean([_log_excess(v, *NORM_INTERVAL_S) for v in intervals])) if intervals else 0.0
    dur_term = float(np.mean([_log_excess(v, *NORM_DURATION_S) for v in durations])) if durations else 0.0
    deviation = rate_term + 0.5 * int_term + 0.5 * dur_term
    raw = 0.05 + 0.9 / (1.0 + math.exp(-2.5 * (deviation - 1.0)))
    status = "ok" if usable_seconds >= config.min_usable_s else "insufficient"
    parts = {
        "rate_z": z,
        "rate_term": rate_term,
        "interval_term": int_term,
        "duration_term": dur_term,
        "deviation": deviation,
        "raw_score": raw,
    }
    return (raw if status == "ok" else 0.5), status, parts


@dataclass
class _Track:
    frames: list[int]
    ears: list[float]
    valid: list[bool]


class BlinkAnalyzer(AnalyzerBase):
    """Analyzer (fakescope.core.analyzers protocol): EAR per frame per track, blink evidence per track.

    Needs every decoded frame (blinks last 3-12 frames); frames a track is missing from count as
    invalid (face lost).
    """

    name = "blink"

    def __init__(self, config: BlinkConfig | None = None) -> None:
        self.config = config or BlinkConfig()
        self._fps = 0.0
        self._tracks: dict[int, _Track] = {}

    def start(self, info: VideoInfo) -> None:
        if not info.fps or info.fps <= 0:
            raise ValueError(f"{info.path}: unknown frame rate; blink timing needs the fps of the video")
        self._fps = float(info.fps)
        self._tracks = {}

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation], crops: Any) -> None:
        for face in faces:
            ear, ok = frame_ear(face.landmarks, self.config)
            ok = ok and face.quality.usable  # a face the pipeline cannot judge gives no trustworthy EAR
            tr = self._tracks.setdefault(face.track_id, _Track([], [], []))
            tr.frames.append(int(frame_index))
            tr.ears.append(ear)
            tr.valid.append(ok)

    def track_evidence(self, track: _Track) -> Evidence:
        fps = self._fps
        first, last = track.frames[0], track.frames[-1]
        n = last - first + 1
        ear = np.full(n, np.nan)
        valid = np.zeros(n, dtype=bool)
        idx = np.asarray(track.frames) - first
        ear[idx] = track.ears
        valid[idx] = track.valid
        valid &= np.isfinite(ear)
        events = [BlinkEvent(e.start_frame + first, e.end_frame + first) for e in detect_blinks(ear, valid, fps, self.config)]
        usable = float(valid.sum()) / fps
        score, status, parts = blink_score(events, usable, fps, self.config)
        intervals, durations = blink_statistics(events, fps)
        rate = len(events) / (usable / 60.0) if status == "ok" and usable > 0 else None
        details: dict[str, Any] = {
            "blinks": len(events),
            "rate_per_min": rate,
            "events": [e.as_json() for e in events],
            "ear": [[int(f), round(float(e), 4)] for f, e, v in zip(track.frames, track.ears, track.valid, strict=True) if v and math.isfinite(e)],
            "intervals_s": [round(v, 3) for v in intervals],
            "durations_s": [round(v, 3) for v in durations],
            "usable_seconds": round(usable, 3),
            "score_parts": {k: round(float(v), 4) for k, v in parts.items()},
        }
        return Evidence("blink", float(score), status, details)

    def finish(self) -> dict[int, Evidence]:
        if self._fps <= 0:
            raise ValueError("BlinkAnalyzer.finish() called before start(info)")
        return {tid: self.track_evidence(tr) for tid, tr in self._tracks.items() if tr.frames}


def make_analyzer(config: object = None) -> BlinkAnalyzer:
    """Factory used by fakescope.core.analyzers.build_analyzers (the scan config needs no blink knobs)."""
    return BlinkAnalyzer()
