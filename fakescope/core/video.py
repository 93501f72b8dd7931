"""Streaming video input.

Frames are yielded one at a time so memory stays flat however long the video is. Timestamps
come from the container (presentation times), not from ``index / fps``, so variable-frame-rate
phone videos keep their real timing. OpenCV's FFmpeg backend applies rotation metadata itself (the
frames come out as a player shows them, so a portrait phone clip is decoded upright); we record the
rotation in ffprobe's convention so the report can say the frames were turned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.errors import UnusableInputError
from fakescope.core.types import VideoInfo

DEFAULT_MAX_BYTES = 8 * 1024**3

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm", ".ppm", ".tif", ".tiff"})


def files_with_suffix(folder: Path, suffixes: frozenset[str]) -> list[Path]:
    """Files below ``folder`` (recursively, sorted) whose suffix is one of ``suffixes``."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def expand_video_inputs(items: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Folders expand to the videos they hold; anything else is kept as given, so a missing or
    unusable file reaches the caller, which reports it instead of silently dropping it."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        out.extend(files_with_suffix(p, VIDEO_SUFFIXES) if p.is_dir() else [p])
    return out

_IMAGE_MAGIC = {
    b"\xff\xd8\xff": "a JPEG still image",
    b"\x89PNG": "a PNG still image",
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
    b"P5": "a PGM image",
    b"P6": "a PPM image",
}


def _sniff(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(64)


def _check_file(path: Path, max_bytes: int) -> None:
    if not path.exists():
        raise UnusableInputError(str(path), "no such file")
    if path.is_dir():
        raise UnusableInputError(str(path), "is a directory, not a video file")
    size = path.stat().st_size
    if size == 0:
        raise UnusableInputError(str(path), "file is empty")
    if size > max_bytes:
        raise UnusableInputError(str(path), f"file is {size / 1e9:.1f} GB, above the {max_bytes / 1e9:.1f} GB limit")
    try:
        head = _sniff(path)
    except PermissionError:
        raise UnusableInputError(str(path), "cannot be read: permission denied") from None
    except OSError as exc:
        raise UnusableInputError(str(path), f"cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    for magic, what in _IMAGE_MAGIC.items():
        if head.startswith(magic):
            raise UnusableInputError(str(path), f"is {what}, not a video")
    if head[:64].isascii() and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        raise UnusableInputError(str(path), "is a text file, not a video")


def _quiet_ffmpeg() -> None:
    """Keep FFmpeg's own warnings ("moov atom not found") off stderr: we report one clear line."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - older OpenCV builds
        pass


def _open(path: Path) -> cv2.VideoCapture:
    _quiet_ffmpeg()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise UnusableInputError(str(path), "cannot be decoded as a video (corrupt, truncated or unknown format)")
    return cap


def ffprobe_rotation(opencv_orientation: float) -> int:
    """The display rotation as ``ffprobe -show_streams`` prints it (the display matrix's rotation,
    counter-clockwise degrees in [-180, 180)) from OpenCV's CAP_PROP_ORIENTATION_META, which reports the
    same angle clockwise in [0, 360): a clip tagged ``rotate=90`` is 90 in ffprobe and 270 in OpenCV."""
    r = -round(float(opencv_orientation)) % 360
    return r - 360 if r >= 180 else r


def probe(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> VideoInfo:
    """Read the header and the first frame; raise UnusableInputError if the file is not a usable video.

    ``frames`` and ``duration_s`` are container estimates here; the scan replaces them with the
    decoded counts after its pass.
    """
    p = Path(path)
    _check_file(p, max_bytes)
    cap = _open(p)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise UnusableInputError(str(p), "contains no decodable video frames (corrupt or truncated)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        rotation = ffprobe_rotation(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        h, w = frame.shape[:2]
    finally:
        cap.release()
    if fps <= 0 or fps > 1000:
        raise UnusableInputError(str(p), f"reports an invalid frame rate ({fps:g} fps)")
    if count == 1:
        raise UnusableInputError(str(p), "has a single frame: a still image, not a video")
    return VideoInfo(path=str(p), frames=max(count, 1), fps=fps, width=w, height=h,
                     duration_s=max(count, 1) / fps, rotation=rotation)


def iter_frames(path: str | os.PathLike[str], info: VideoInfo | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, timestamp_s, frame_bgr)`` for every decodable frame, streaming.

    A truncated file ends the iteration early instead of raising: what was decoded is real
    evidence and the caller records the decoded count.
    """
    p = Path(path)
    info = info or probe(p)
    cap = _open(p)
    try:
        index = 0
        last_ts = -1.0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            ts = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
            if ts <= last_ts or (index > 0 and ts == 0.0):
                ts = last_ts + 1.0 / info.fps if index > 0 else 0.0
            last_ts = ts
            yield index, ts, frame
            index += 1
    finally:
        cap.release()


class FrameStats:
    """Accumulates decoded counts and timing so the JSON reports what was really decoded."""

    def __init__(self) -> None:
        self.frames = 0
        self.first_ts: float | None = None
        self.last_ts = 0.0
        self._deltas: list[float] = []

    def add(self, timestamp: float) -> None:
        if self.first_ts is None:
            self.first_ts = timestamp
        elif len(self._deltas) < 10_000:
            self._deltas.append(timestamp - self.last_ts)
        self.last_ts = timestamp
        self.frames += 1

    def finalize(self, info: VideoInfo) -> VideoInfo:
        if self.frames == 0:
            return info
        deltas = np.asarray(self._deltas) if self._deltas else np.asarray([1.0 / info.fps])
        vfr = bool(deltas.size > 2 and np.std(deltas) > 0.2 * max(np.median(deltas), 1e-6))
        span = (self.last_ts - (self.first_ts or 0.0)) + float(np.median(deltas))
        duration = span if span > 0 else self.frames / info.fps
        fps = self.frames / duration if vfr else info.fps
        return replace(info, frames=self.frames, duration_s=round(float(duration), 4), fps=float(fps), variable_frame_rate=vfr)
