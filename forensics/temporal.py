"""Temporal consistency of a face track: what a frame-by-frame generator gets wrong over time.

Why: reenactment and talking-head fakes can look clean in every frame and still be wrong between
frames. A generator or warp redraws the face each frame without seeing the last one, so its fine
texture flickers while the background and the rest of the head stay steady; warps that drive the
mouth make the lower-face landmarks jitter in ways head motion does not explain; a swap or an
animation drifts in identity. Real skin changes smoothly and real landmarks move with the head.

Per frame of a face track (``update()``, streaming; arrays of a few numbers per frame):

- *landmark jitter*: the 68 landmarks are mapped onto the track's first frame by a similarity
  transform (rigid head motion removed); the non-rigid residual's second difference over time
  (acceleration) in inter-ocular distances, for the mouth/jaw points and for the rest;
- *texture flicker*: a ``CROP_SIZE`` grey aligned crop; the temporal second difference
  |I[t] - (I[t-1] + I[t+1]) / 2| after a light blur (so sub-pixel alignment noise counts less),
  averaged inside the inner face, in the mouth box, and in the crop's border ring outside the
  face (hair, background, neck: the reference a face generator did not draw);
- *identity drift*: dlib's 128-d face embedding every ``embed_every_s`` seconds, its distance to
  the track's median embedding.

Track features (``FEATURE_NAMES``) summarise those: log ratios of inner-face and mouth flicker to
the border's and to each other, median jitter of the mouth and of the rest, and the 90th
percentile and median identity distance. The score is the shipped logistic model
(``weights/temporal.json``, fitted by ``forensics.train_temporal`` on our own fakes vs reals,
identity-disjoint) or, without it, 0.5 with status ``insufficient`` (an untrained rule would only
add noise). ``per_frame`` applies the same model to one-second windows every half second.

Insufficient: fewer than ``min_frames`` consecutive judged frames of the track.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.analyzers import AnalyzerBase, CropCache
from fakescope.core.types import Evidence, FaceObservation, VideoInfo
from forensics.jsonmodel import JsonClassifier, load_optional

WEIGHTS = Path(__file__).resolve().parent / "weights" / "temporal.json"
CROP_SIZE = 64
MARGIN = 0.3
MOUTH_POINTS = np.r_[48:68, 4:13]  # lips and lower jaw line
REST_POINTS = np.setdiff1d(np.arange(68), MOUTH_POINTS)
FEATURE_NAMES = (
    "face_vs_border",  # log(inner-face flicker / border flicker)
    "mouth_vs_border",  # log(mouth flicker / border flicker)
    "mouth_vs_face",  # log(mouth flicker / inner-face flicker)
    "jitter_mouth",  # log median non-rigid acceleration of mouth and jaw landmarks (IOD per frame^2)
    "jitter_rest",  # the same for the other landmarks
    "jitter_ratio",  # jitter_mouth - jitter_rest
    "id_p90",  # 90th percentile of the embedding distance to the track's median (0 without embeddings)
    "id_median",
)
FEATURES_VERSION = 1


@dataclass(frozen=True)
class TemporalConfig:
    min_frames: int = 25
    embed_every_s: float = 1.5  # a dlib embedding costs about 60 ms on 2 cores
    max_gap_frames: int = 1  # a longer gap in a track starts a new run (differences never span it)
    window_s: float = 1.0  # per_frame windows


def regions(lm: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks of an aligned crop from its landmarks: inner face (without the mouth box),
    mouth box, and the crop's border ring (hair, background, neck: what a face generator leaves)."""
    inner = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(lm[:27]).astype(np.int32))
    cv2.fillConvexPoly(inner, hull, 1)
    inner = cv2.erode(inner, _KERNEL)
    mouth = np.zeros((size, size), np.uint8)
    x0, y0 = lm[48:68].min(axis=0)
    x1, y1 = lm[48:68].max(axis=0)
    pad = 0.15 * (x1 - x0)
    mouth[int(max(y0 - pad, 0)):int(max(min(y1 + pad, size), 0)), int(max(x0 - pad, 0)):int(max(min(x1 + pad, size), 0))] = 1
    return (inner > 0) & (mouth == 0), mouth > 0, _border(size) & (inner == 0)


_KERNEL = np.ones((5, 5), np.uint8)


@lru_cache(maxsize=4)
def _border(size: int) -> np.ndarray:
    """The crop's outer tenth on every side (the same for every frame, so made once)."""
    ring = np.zeros((size, size), bool)
    b = max(2, size // 10)
    ring[:b], ring[-b:], ring[:, :b], ring[:, -b:] = True, True, True, True
    ring.setflags(write=False)
    return ring


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """src mapped onto dst by the least-squares similarity (Umeyama, no reflection)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    r = u @ np.diag([1.0, sign]) @ vt
    scale = (sig * np.array([1.0, sign])).sum() / max((s**2).sum() / len(src), 1e-12)
    return (scale * (r @ s.T)).T + mu_d


@dataclass
class _Track:
    ref: np.ndarray | None = None
    iod: float = 1.0
    last_index: int = -10
    run_lm: deque | None = None  # last 3 stabilised landmark sets
    run_img: deque | None = None  # last 3 (blurred crop, crop landmarks)
    frames: list[int] | None = None
    jit_mouth: list[float] | None = None
    jit_rest: list[float] | None = None
    fl_face: list[float] | None = None
    fl_mouth: list[float] | None = None
    fl_border: list[float] | None = None
    embed_t: float = -1e9
    embeds: list[np.ndarray] | None = None
    embed_frames: list[int] | None = None

    def __post_init__(self) -> None:
        self.run_lm, self.run_img = deque(maxlen=3), deque(maxlen=3)
        self.frames, self.jit_mouth, self.jit_rest = [], [], []
        self.fl_face, self.fl_mouth, self.fl_border = [], [], []
        self.embeds, self.embed_frames = [], []


def _log(x: float) -> float:
    return math.log(max(x, 1e-6))


def track_features(fl_face: np.ndarray, fl_mouth: np.ndarray, fl_border: np.ndarray, jit_mouth: np.ndarray,
                   jit_rest: np.ndarray, id_dist: np.ndarray) -> dict[str, float]:
    """FEATURE_NAMES from per-frame measurements (medians are robust to a few bad frames)."""
    f, m, b = (float(np.median(a)) for a in (fl_face, fl_mouth, fl_border))
    jm, jr = _log(float(np.median(jit_mouth))), _log(float(np.median(jit_rest)))
    return {
        "face_vs_border": _log(f) - _log(b), "mouth_vs_border": _log(m) - _log(b), "mouth_vs_face": _log(m) - _log(f),
        "jitter_mouth": jm, "jitter_rest": jr, "jitter_ratio": jm - jr,
        "id_p90": float(np.percentile(id_dist, 90)) if id_dist.size else 0.0,
        "id_median": float(np.median(id_dist)) if id_dist.size else 0.0,
    }


class TemporalAnalyzer(AnalyzerBase):
    name = "temporal"

    def __init__(self, config: TemporalConfig | None = None, use_model: bool = True, weights: Path = WEIGHTS,
                 embeddings: bool = True) -> None:
        self.cfg = config or TemporalConfig()
        self.use_model = use_model
        self.weights = Path(weights)
        self.embeddings = embeddings
        self._tracks: dict[int, _Track] = {}
        self._fps = 25.0

    @property
    def model_hashes(self) -> dict[str, str]:
        if self.use_model and self.weights.exists():
            from fakescope.core.hashing import sha256_file

            return {"temporal": sha256_file(self.weights)}
        return {}

    def start(self, info: VideoInfo) -> None:
        self._tracks.clear()
        self._fps = float(info.fps) or 25.0

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation],
               crops: CropCache | None) -> None:
        for f in faces:
            if not f.quality.usable:  # the quality gate every face analyzer shares (fakescope.core.quality)
                continue
            tr = self._tracks.setdefault(f.track_id, _Track())
            lm = np.asarray(f.landmarks, np.float64)
            if frame_index - tr.last_index > self.cfg.max_gap_frames:
                tr.run_lm.clear()
                tr.run_img.clear()
            tr.last_index = frame_index
            if tr.ref is None:
                tr.ref = lm.copy()
                tr.iod = max(float(np.hypot(*(lm[45] - lm[36]))), 1e-3)
            tr.run_lm.append(_similarity(lm, tr.ref))
            aligned = crops.get(f, CROP_SIZE, MARGIN) if crops is not None else _align(frame_bgr, lm)
            grey = cv2.GaussianBlur(cv2.cvtColor(aligned.image, cv2.COLOR_BGR2GRAY).astype(np.float32), (3, 3), 0.8)
            tr.run_img.append((grey, aligned.landmarks))
            if len(tr.run_lm) == 3:
                acc = (tr.run_lm[2] - 2 * tr.run_lm[1] + tr.run_lm[0]) / tr.iod
                mag = np.hypot(acc[:, 0], acc[:, 1])
                (g0, _), (g1, lm1), (g2, _) = tr.run_img
                d2 = np.abs(g1 - 0.5 * (g0 + g2))
                face, mouth, ring = regions(np.asarray(lm1, np.float64), CROP_SIZE)
                tr.frames.append(frame_index - 1)
                tr.jit_mouth.append(float(mag[MOUTH_POINTS].mean()))
                tr.jit_rest.append(float(mag[REST_POINTS].mean()))
                tr.fl_face.append(float(d2[face].mean()))
                tr.fl_mouth.append(float(d2[mouth].mean()))
                tr.fl_border.append(float(d2[ring].mean()))
            if self.embeddings and timestamp - tr.embed_t >= self.cfg.embed_every_s:
                from fakescope.core.embedding import face_descriptor

                tr.embed_t = timestamp
                tr.embeds.append(face_descriptor(frame_bgr, lm))
                tr.embed_frames.append(frame_index)

    def features(self, tid: int) -> dict[str, float] | None:
        """The track's FEATURE_NAMES (None: too few judged frames)."""
        tr = self._tracks.get(tid)
        if tr is None or len(tr.frames) < self.cfg.min_frames:
            return None
        return track_features(*(np.asarray(a) for a in (tr.fl_face, tr.fl_mouth, tr.fl_border, tr.jit_mouth,
                                                        tr.jit_rest)), self._id_distances(tr))

    @staticmethod
    def _id_distances(tr: _Track) -> np.ndarray:
        if len(tr.embeds) < 2:
            return np.zeros(0)
        e = np.stack(tr.embeds)
        return np.linalg.norm(e - np.median(e, axis=0), axis=1)

    def finish(self) -> dict[int, Evidence]:
        model = load_optional(str(self.weights), FEATURE_NAMES, "fakescope forensics train temporal") if self.use_model else None
        out: dict[int, Evidence] = {}
        for tid, tr in self._tracks.items():
            feats = self.features(tid)
            if feats is None:
                out[tid] = Evidence(self.name, 0.5, "insufficient", {
                    "per_frame": [], "reason": f"fewer than {self.cfg.min_frames} consecutive judged frames"})
                continue
            details: dict[str, Any] = {"features": {k: round(v, 5) for k, v in feats.items()},
                                       "frames": len(tr.frames), "embeddings": len(tr.embeds)}
            if model is None:
                out[tid] = Evidence(self.name, 0.5, "insufficient", {
                    **details, "per_frame": [], "reason": "no temporal model is installed "
                                                          "(fakescope forensics train temporal)"})
                continue
            score = float(model.predict_proba(np.array([[feats[k] for k in FEATURE_NAMES]]))[0])
            out[tid] = Evidence(self.name, score, "ok", {**details, "per_frame": self._per_frame(tr, model)})
        return out

    def _per_frame(self, tr: _Track, model: JsonClassifier) -> list[list[float]]:
        """The model on one-second windows every half second, at each window's centre frame."""
        n = len(tr.frames)
        win = max(5, int(round(self.cfg.window_s * self._fps)))
        ids = self._id_distances(tr)
        rows, at = [], []
        arrays = [np.asarray(a) for a in (tr.fl_face, tr.fl_mouth, tr.fl_border, tr.jit_mouth, tr.jit_rest)]
        for s in range(0, max(n - win, 0) + 1, max(1, win // 2)):
            f = track_features(*(a[s:s + win] for a in arrays), ids)
            rows.append([f[k] for k in FEATURE_NAMES])
            at.append(tr.frames[min(s + win // 2, n - 1)])
        if not rows:
            return []
        p = model.predict_proba(np.array(rows))
        return [[int(i), round(float(v), 4)] for i, v in zip(at, p, strict=True)]


def _align(frame_bgr: np.ndarray, lm: np.ndarray) -> Any:
    from fakescope.core.faces import align_face

    return align_face(frame_bgr, lm, size=CROP_SIZE, margin=MARGIN)


def make_analyzer(config: object) -> TemporalAnalyzer:
    return TemporalAnalyzer()
