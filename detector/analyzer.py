"""The CNN detector as a scan analyzer: sampled crops, batched inference, top-k aggregation.

Crops are sampled every ``every`` frames per track (faces change slowly; scoring every frame
would cost far more than it adds) and scored in batches as they accumulate, so memory stays
bounded by one batch. The most suspicious frames are kept (a few thumbnails) so the report can
show them with a Grad-CAM heatmap.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from detector.aggregate import aggregate_video
from fakescope.core.analyzers import AnalyzerBase, CropCache
from fakescope.core.types import Evidence, FaceObservation, VideoInfo

MIN_CROPS = 3  # fewer scored crops than this in a track is 'insufficient'


@dataclass
class _Pending:
    crops: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)  # face hulls, for detectors that read them
    meta: list[tuple[int, int]] = field(default_factory=list)  # (track id, frame index)
    frames: dict[tuple[int, int], tuple[np.ndarray, tuple[int, int, int, int]]] = field(default_factory=dict)


class DetectorAnalyzer(AnalyzerBase):
    name = "detector"

    def __init__(self, model: Any, every: int = 3, batch_size: int = 64, key_frames: int = 3) -> None:
        self.model = model
        self.every = every
        self.batch_size = batch_size
        self.n_key = key_frames
        self._reset()

    @property
    def model_hashes(self) -> dict[str, str]:
        return {self.model.name: self.model.sha256}

    def _reset(self) -> None:
        self._tracks: list[int] = []
        self._frames: list[int] = []
        self._logits: list[float] = []
        self._pending = _Pending()
        self._seen: dict[int, int] = {}
        # (logit, frame, track, crop, thumbnail, box, mask): the most suspicious crops, for Grad-CAM
        self._top: list[tuple[float, int, int, np.ndarray, np.ndarray, tuple[int, int, int, int], np.ndarray]] = []

    def start(self, info: VideoInfo) -> None:
        self._reset()

    def update(
        self,
        frame_index: int,
        timestamp: float,
        frame_bgr: np.ndarray,
        faces: list[FaceObservation],
        crops: CropCache,
    ) -> None:
        for face in faces:
            if not face.quality.usable:
                continue  # tracked but not judgeable (too small, turned, unsure landmarks): no score
            n = self._seen.get(face.track_id, 0)
            self._seen[face.track_id] = n + 1
            if n % self.every:
                continue
            aligned = crops.get(face, self.model.crop_size, 0.3)
            self._pending.crops.append(aligned.image)
            self._pending.masks.append(aligned.mask)
            self._pending.meta.append((face.track_id, frame_index))
            self._pending.frames[(face.track_id, frame_index)] = (self._thumb(frame_bgr, face.box), face.box)
        if len(self._pending.crops) >= self.batch_size:
            self._flush()

    @staticmethod
    def _thumb(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """Downscaled copy with the face box drawn; only kept for the few most suspicious frames."""
        scale = min(1.0, 360 / max(frame.shape[:2]))
        small = (
            cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if scale < 1
            else frame.copy()
        )
        x0, y0, x1, y1 = (int(v * scale) for v in box)
        cv2.rectangle(small, (x0, y0), (x1, y1), (0, 0, 255), 2)
        return small

    def _flush(self) -> None:
        p = self._pending
        if not p.crops:
            return
        masks = np.stack(p.masks) if self.model.needs_mask else None  # RGB models: no per-batch copy
        logits = self.model.predict_logits(np.stack(p.crops), batch_size=self.batch_size, masks=masks)
        for (tid, fi), z, crop, mask in zip(p.meta, logits, p.crops, p.masks, strict=True):
            self._tracks.append(tid)
            self._frames.append(fi)
            self._logits.append(float(z))
            item = (float(z), fi, tid, crop, *p.frames[(tid, fi)], mask)
            if len(self._top) < self.n_key:
                heapq.heappush(self._top, item)  # type: ignore[arg-type]
            elif z > self._top[0][0]:
                heapq.heapreplace(self._top, item)  # type: ignore[arg-type]
        self._pending = _Pending()

    def finish(self) -> dict[int, Evidence]:
        self._flush()
        out: dict[int, Evidence] = {}
        if not self._logits:
            return out
        tracks = np.asarray(self._tracks)
        frames = np.asarray(self._frames)
        logits = np.asarray(self._logits)
        probs = self.model.calibrator.predict_proba(logits)
        for tid in np.unique(tracks):
            sel = tracks == tid
            score = aggregate_video(tracks[sel], frames[sel], logits[sel], self.model.calibrator,
                                    top_frac=self.model.top_frac)
            per_frame = [[int(f), round(float(p), 5)] for f, p in zip(frames[sel], probs[sel], strict=True)]
            status = "ok" if sel.sum() >= MIN_CROPS else "insufficient"
            out[int(tid)] = Evidence(
                "detector",
                float(np.clip(score.probability, 0, 1)),
                status,
                {
                    "model": self.model.name,
                    "per_frame": per_frame,
                    "threshold": self.model.threshold,
                    "top_frames": list(score.track(int(tid)).top_frames),
                    "aggregation": "mean of the top 25% frame logits, calibrated",
                },
            )
        return out

    def key_frames(self) -> list[Any]:
        from detector.gradcam import explain_crops, overlay_heatmap
        from fakescope.core.types import KeyFrame

        best = sorted(self._top, key=lambda t: -t[0])
        if not best:
            return []
        crops = np.stack([b[3] for b in best])
        heat = explain_crops(self.model, crops, np.stack([b[6] for b in best]) if self.model.needs_mask else None)
        probs = self.model.calibrator.predict_proba(np.asarray([b[0] for b in best]))
        return [
            KeyFrame(
                "detector",
                b[1],
                float(p),
                b[4],
                overlay_heatmap(b[3], h),
                "Grad-CAM: regions the detector relied on.",
                b[2],
            )
            for b, h, p in zip(best, heat, probs, strict=True)
        ]


def make_analyzer(config: object = None) -> DetectorAnalyzer:
    from detector.io import load_model

    name = getattr(config, "detector", None) or "default"
    try:
        model = load_model(name, device=getattr(config, "device", "cpu") or "cpu")
    except ValueError as exc:
        raise LookupError(f"detector {name!r} unavailable: {exc}") from exc
    return DetectorAnalyzer(model, every=int(getattr(config, "detector_every", 3) or 3))
