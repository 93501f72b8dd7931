"""Frame -> track -> video aggregation of detector logits.

Rule (fixed, so reports can explain it):

1. Frames are grouped by face track.
2. A track's logit is the mean of its top-k frame logits, k = ceil(top_frac * n) with k >= 1
   (n = frames scored in that track; default top_frac = 0.25).
3. The track probability is the calibrator applied to that logit (plain sigmoid without one).
4. The video takes the most suspicious track (highest probability, then highest logit, since an
   isotonic calibrator can map different logits to one probability; then the lower track id).

Why: a swap is often only visible in part of a clip (profile views, motion blur, occlusion hide
it elsewhere), so a plain mean dilutes it, while a plain max lets a single bad frame of a real
video decide; the top quarter is a compromise between the two. Only one face in a clip needs to be
swapped for the clip to be fake, hence the max over tracks. Averaging logits rather than
probabilities keeps a few very confident frames from being squashed at 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detector.calibration import Calibrator, IdentityCalibrator


@dataclass(frozen=True)
class TrackScore:
    track_id: int
    n_frames: int
    k: int
    logit: float
    probability: float
    top_frames: tuple[int, ...]  # frame indices of the k frames that set the score, most suspicious first


@dataclass(frozen=True)
class VideoScore:
    probability: float
    logit: float
    track_id: int
    tracks: tuple[TrackScore, ...]  # sorted by track id

    def track(self, track_id: int) -> TrackScore:
        return next(t for t in self.tracks if t.track_id == track_id)


def top_k(n: int, top_frac: float) -> int:
    return max(1, math.ceil(top_frac * n))


def aggregate_video(
    track_ids: Sequence[int] | np.ndarray,
    frame_indices: Sequence[int] | np.ndarray,
    logits: Sequence[float] | np.ndarray,
    calibrator: Calibrator | None = None,
    top_frac: float = 0.25,
) -> VideoScore:
    """Aggregate per-frame logits (one entry per scored face crop) into a video score."""
    tid = np.asarray(track_ids, dtype=np.int64).ravel()
    fidx = np.asarray(frame_indices, dtype=np.int64).ravel()
    z = np.asarray(logits, dtype=np.float64).ravel()
    if not (tid.size == fidx.size == z.size):
        raise ValueError(
            f"track_ids, frame_indices and logits differ in length: {tid.size}, {fidx.size}, {z.size}"
        )
    if z.size == 0:
        raise ValueError("no scored face crops to aggregate; report the detector evidence as 'insufficient'")
    if not np.isfinite(z).all():
        raise ValueError("frame logits contain NaN or inf; the detector output is unusable")
    if not 0.0 < top_frac <= 1.0:
        raise ValueError(f"top_frac must be in (0, 1], got {top_frac}")
    cal = calibrator or IdentityCalibrator()
    tracks = []
    for t in np.unique(tid):
        sel = np.flatnonzero(tid == t)
        k = top_k(sel.size, top_frac)
        order = sel[np.argsort(-z[sel], kind="stable")[:k]]
        logit = float(z[order].mean())
        prob = float(cal.predict_proba(np.array([logit]))[0])
        tracks.append(TrackScore(int(t), int(sel.size), k, logit, prob, tuple(int(f) for f in fidx[order])))
    best = max(tracks, key=lambda s: (s.probability, s.logit, -s.track_id))
    return VideoScore(best.probability, best.logit, best.track_id, tuple(tracks))
