"""Compact video fingerprints for the provenance registry.

Why these three signals: a face swap replaces the face and nothing else, so a fingerprint that
separates the face from the rest of the frame can both find the original a fake was made from
(the background and the motion survive the swap) and say what changed (the face does not).

Per sample (``SAMPLE_HZ`` samples per second of video time, so the fingerprint is independent of
the frame rate):

- ``whole``: a 64-bit DCT perceptual hash of the whole grey frame;
- ``background``: the same hash of the frame with every face box filled with the frame's median
  grey, so a swapped face cannot change it (a face the detector loses keeps its last box for
  ``FACE_HOLD_S``: a poor swap may not be detected as a face at all, and must still be masked);
- ``face``: the hash of the largest face's aligned inner-face crop (None without a face);
- every ``EMBED_EVERY``-th sample: dlib's 128-d face embedding of that face (identity).

DCT hashes of a 32x32 thumbnail survive re-encoding, resizing and crops of a few per cent (a
3 % crop moves the thumbnail by one pixel). Small JPEG thumbnails every ``THUMB_EVERY`` samples
let a report show the original next to the suspect without keeping the original file.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from fakescope.core.types import FaceObservation

SAMPLE_HZ = 4.0
EMBED_EVERY = 4  # one identity embedding per second
THUMB_EVERY = 8  # one thumbnail every two seconds
THUMB_HEIGHT = 144
FACE_HOLD_S = 3.0  # a face lost by the detector keeps its box masked this long (swaps can defeat detectors)
FACE_BOX_GROW = 1.35  # face boxes are enlarged by this much before masking: hair and jaw edges move with a swap
HASH_BITS = 64


def phash(gray: np.ndarray) -> int:
    """64-bit perceptual hash: signs of the 8x8 lowest DCT frequencies of a 32x32 thumbnail versus their median."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].reshape(-1)
    bits = low > np.median(low[1:])
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    return int((a ^ b).bit_count())


def _face_boxes(faces: list[FaceObservation], shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    h, w = shape
    boxes = []
    for f in faces:
        x0, y0 = f.landmarks.min(0)
        x1, y1 = f.landmarks.max(0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half = max(x1 - x0, y1 - y0) * FACE_BOX_GROW / 2
        # landmarks stop at the brows: extend the box upwards over the forehead
        boxes.append((int(max(0, cx - half)), int(max(0, cy - half * 1.3)), int(min(w, cx + half)), int(min(h, cy + half))))
    return boxes


def background_gray(gray: np.ndarray, faces: list[FaceObservation]) -> np.ndarray:
    """The grey frame with every face box filled by the frame's median grey."""
    if faces:
        gray = gray.copy()
        fill = int(np.median(gray[:: 8, :: 8]))
        for x0, y0, x1, y1 in _face_boxes(faces, gray.shape[:2]):
            gray[y0:y1, x0:x1] = fill
    return gray


def _thumbnail_jpeg(frame_bgr: np.ndarray) -> str:
    h, w = frame_bgr.shape[:2]
    scale = THUMB_HEIGHT / h
    small = cv2.resize(frame_bgr, (max(1, round(w * scale)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
    if not ok:  # pragma: no cover
        raise RuntimeError("JPEG encoding failed")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def decode_thumbnail(b64: str) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("stored thumbnail is not a JPEG image")
    return img


@dataclass(frozen=True)
class Fingerprint:
    """One video's fingerprint; sample ``i`` is at ``i / hz`` seconds of video time."""

    hz: float
    duration_s: float
    whole: tuple[int, ...]
    background: tuple[int, ...]
    face: tuple[int | None, ...]
    embeddings: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # sample -> (128,) float32
    thumbnails: dict[int, str] = field(default_factory=dict, repr=False)  # sample -> base64 JPEG

    def __len__(self) -> int:
        return len(self.background)

    def as_json(self) -> dict[str, Any]:
        """Canonical JSON (hex hashes, float16 embeddings): what the registry stores and hashes."""
        return {
            "hz": self.hz,
            "duration_s": round(float(self.duration_s), 4),
            "whole": [f"{h:016x}" for h in self.whole],
            "background": [f"{h:016x}" for h in self.background],
            "face": [None if h is None else f"{h:016x}" for h in self.face],
            "embeddings": {str(i): base64.b64encode(e.astype(np.float16).tobytes()).decode("ascii")
                           for i, e in sorted(self.embeddings.items())},
            "thumbnails": {str(i): t for i, t in sorted(self.thumbnails.items())},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fingerprint:
        try:
            return cls(
                hz=float(d["hz"]),
                duration_s=float(d["duration_s"]),
                whole=tuple(int(h, 16) for h in d["whole"]),
                background=tuple(int(h, 16) for h in d["background"]),
                face=tuple(None if h is None else int(h, 16) for h in d["face"]),
                embeddings={int(i): np.frombuffer(base64.b64decode(e), np.float16).astype(np.float32)
                            for i, e in d.get("embeddings", {}).items()},
                thumbnails={int(i): t for i, t in d.get("thumbnails", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a fingerprint: {exc}") from exc


class FingerprintBuilder:
    """Streams frames (the scan's analyzer interface) into a Fingerprint.

    A frame is sampled when its timestamp reaches the next sample time, so variable frame rates
    and trimmed copies land on the same time grid as the original.
    """

    def __init__(self, hz: float = SAMPLE_HZ, embeddings: bool = True, thumbnails: bool = True,
                 thumb_every: int = THUMB_EVERY) -> None:
        if hz <= 0 or thumb_every < 1:
            raise ValueError(f"sample rate and thumbnail spacing must be positive, got {hz} and {thumb_every}")
        self.hz = hz
        self.thumb_every = thumb_every
        self.frame_indices: list[int] = []  # decoded frame index of each sample
        self.track_ids: list[int | None] = []  # track of the face each sample's face hash describes
        self.with_embeddings = embeddings
        self.with_thumbnails = thumbnails
        self._whole: list[int] = []
        self._background: list[int] = []
        self._face: list[int | None] = []
        self._emb: dict[int, np.ndarray] = {}
        self._thumbs: dict[int, str] = {}
        self._last_ts = 0.0
        self._frame_dt = 0.0
        self._held: list[FaceObservation] = []
        self._held_ts = -1e9

    def update(self, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation], frame_index: int = -1) -> bool:
        """Returns True when this frame was taken as a sample."""
        if self._frame_dt == 0.0 and timestamp > self._last_ts:
            self._frame_dt = timestamp - self._last_ts
        self._last_ts = max(self._last_ts, timestamp)
        due = int(np.floor((timestamp + self._frame_dt / 2) * self.hz + 1e-9)) + 1 - len(self._background)
        if due <= 0:
            return False
        # one frame may cover several sample times after a gap (VFR, dropped frames): indices stay on the time grid
        first = len(self._background)
        covered = range(first, first + due)
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        if faces:
            self._held, self._held_ts = list(faces), timestamp
        masked = faces or (self._held if timestamp - self._held_ts <= FACE_HOLD_S else [])
        whole, back = phash(gray), phash(background_gray(gray, masked))
        face = max(faces, key=lambda f: f.size) if faces else None
        face_hash: int | None = None
        if face is not None:
            from fakescope.core.faces import align_face

            crop = align_face(frame_bgr, face.landmarks, size=64, margin=0.0)
            face_hash = phash(cv2.cvtColor(crop.image, cv2.COLOR_BGR2GRAY))
        for _ in covered:
            self._whole.append(whole)
            self._background.append(back)
            self._face.append(face_hash)
            self.frame_indices.append(frame_index)
            self.track_ids.append(None if face is None else face.track_id)
        emb_k = next((k for k in covered if k % EMBED_EVERY == 0), None)
        if face is not None and self.with_embeddings and emb_k is not None:
            from fakescope.core.embedding import face_descriptor

            self._emb[emb_k] = face_descriptor(frame_bgr, face.landmarks)
        thumb_k = next((k for k in covered if k % self.thumb_every == 0), None)
        if self.with_thumbnails and thumb_k is not None:
            self._thumbs[thumb_k] = _thumbnail_jpeg(frame_bgr)
        return True

    def finish(self, duration_s: float | None = None) -> Fingerprint:
        return Fingerprint(hz=self.hz, duration_s=float(duration_s if duration_s is not None else self._last_ts),
                           whole=tuple(self._whole), background=tuple(self._background), face=tuple(self._face),
                           embeddings=dict(self._emb), thumbnails=dict(self._thumbs))


def fingerprint_video(path: str, progress: bool = False) -> tuple[Fingerprint, Any]:
    """Fingerprint a whole video file (streamed). Returns the fingerprint and the probed VideoInfo."""
    from tqdm import tqdm

    from fakescope.core.faces import FacePipeline
    from fakescope.core.video import FrameStats, probe

    info = probe(path)
    builder = FingerprintBuilder()
    stats = FrameStats()
    with tqdm(total=info.frames or None, desc="fingerprint", unit="frame", disable=not progress, leave=False) as bar:
        for index, ts, frame, faces in FacePipeline().run(path, info):
            builder.update(ts, frame, faces, index)
            stats.add(ts)
            bar.update(1)
    info = stats.finalize(info)
    if stats.frames < 2 or len(builder.frame_indices) == 0:
        from fakescope.core.errors import UnusableInputError

        raise UnusableInputError(str(path), "has fewer than two decodable frames: a still image, not a video")
    return builder.finish(info.duration_s), info
