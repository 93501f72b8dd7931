"""Aligned training faces per identity, extracted once and cached by content hash.

Why a content-hash cache: extraction (detection + landmarks on every frame) takes far longer than
a short training session; keying the cache by the sources' sha256 (plus crop size and margin)
means a second run, or a resumed one, starts training at once, and a changed source file is
never silently served stale faces.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.faces import align_face
from fakescope.core.hashing import sha256_file
from fakescope.core.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, files_with_suffix

EXTRACT_VERSION = 1  # bump when extraction changes in a way that invalidates cached faces


@dataclass(frozen=True)
class FaceSet:
    """All aligned faces of one identity. Arrays share their first axis."""

    identity: str
    images: np.ndarray = field(repr=False)  # (N, S, S, 3) uint8 BGR
    masks: np.ndarray = field(repr=False)  # (N, S, S) uint8 0-255, landmark hull
    landmarks: np.ndarray = field(repr=False)  # (N, 68, 2) float32 crop pixels
    frames: np.ndarray = field(repr=False)  # (N,) int32 frame index within its source (0 for images)
    source_index: np.ndarray = field(repr=False)  # (N,) int32 index into ``sources``
    sources: tuple[str, ...]
    source_sha256: tuple[str, ...]
    key: str  # cache key: hash of extraction settings and source hashes

    def __len__(self) -> int:
        return int(self.images.shape[0])


def list_sources(source: Path) -> list[Path]:
    """A video or image file as is; a folder as its images and videos (recursively, sorted)."""
    source = Path(source)
    if not source.exists():
        raise ValueError(f"face source {source} does not exist; give a video file or a folder of images/videos")
    if source.is_file():
        return [source]
    files = files_with_suffix(source, IMAGE_SUFFIXES | VIDEO_SUFFIXES)
    if not files:
        raise ValueError(
            f"folder {source} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}) or videos ({', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    return files


def cache_key(
    source_hashes: Iterable[str], size: int, margin: float, shift_y: float, frame_stride: int, max_faces: int
) -> str:
    spec = {"v": EXTRACT_VERSION, "size": size, "margin": round(margin, 4), "shift_y": round(shift_y, 4), "stride": frame_stride,
            "max_faces": max_faces, "sources": list(source_hashes)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _largest(faces: list) -> np.ndarray | None:  # list[FaceObservation]
    if not faces:
        return None
    best = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return best.landmarks


def _iter_source_faces(path: Path, frame_stride: int, progress: bool) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (frame_index, frame_bgr, landmarks) of the largest face per (sampled) frame or image."""
    from fakescope.core.faces import FacePipeline, detect_landmarks_image

    if path.suffix.lower() in IMAGE_SUFFIXES:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            return
        found = detect_landmarks_image(img)
        if found:
            yield 0, img, found[0]
        return
    frames = FacePipeline().run(path)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc=f"faces {path.name}", unit="frame", leave=False)
    for index, _ts, frame, faces in frames:
        lm = _largest(faces)
        if lm is not None and index % frame_stride == 0:
            yield index, frame, lm


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_cached(path: Path, identity: str, key: str) -> FaceSet | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return FaceSet(identity=identity, images=z["images"], masks=z["masks"], landmarks=z["landmarks"],
                           frames=z["frames"], source_index=z["source_index"],
                           sources=tuple(str(s) for s in z["sources"]),
                           source_sha256=tuple(str(s) for s in z["source_sha256"]), key=key)
    except (OSError, KeyError, ValueError):
        return None  # unreadable or from an older layout: extract again


def build_faceset(
    identity: str,
    source: Path,
    cache_dir: Path,
    size: int,
    margin: float,
    shift_y: float,
    frame_stride: int = 1,
    max_faces: int = 5000,
    progress: bool = True,
) -> FaceSet:
    """Extract (or load from ``cache_dir/<identity>.npz``) the aligned faces of one identity.

    ``max_faces`` bounds memory on long videos by keeping an evenly spaced subset; neighbouring
    frames of a video are near duplicates anyway.
    """
    files = list_sources(Path(source))
    hashes = [sha256_file(f) for f in files]
    key = cache_key(hashes, size, margin, shift_y, frame_stride, max_faces)
    cache = Path(cache_dir) / f"{identity}.npz"
    cached = _load_cached(cache, identity, key)
    if cached is not None:
        return cached

    images, masks, lms, frames, src = [], [], [], [], []
    for si, f in enumerate(files):
        for index, frame, landmarks in _iter_source_faces(f, frame_stride, progress):
            a = align_face(frame, landmarks, size, margin, shift_y)
            images.append(a.image)
            masks.append(np.round(a.mask * 255).astype(np.uint8))
            lms.append(a.landmarks)
            frames.append(index)
            src.append(si)
    if not images:
        raise ValueError(f"no faces found for identity {identity!r} in {source}; give frontal, well-lit footage of that person")
    keep = np.arange(len(images))
    if len(keep) > max_faces:
        keep = np.unique(np.linspace(0, len(images) - 1, max_faces).round().astype(int))
    arrays = {
        "images": np.stack([images[i] for i in keep]),
        "masks": np.stack([masks[i] for i in keep]),
        "landmarks": np.stack([lms[i] for i in keep]).astype(np.float32),
        "frames": np.asarray([frames[i] for i in keep], np.int32),
        "source_index": np.asarray([src[i] for i in keep], np.int32),
    }
    names = np.asarray([str(f) for f in files])
    _atomic_savez(cache, key=np.asarray(key), sources=names, source_sha256=np.asarray(hashes), **arrays)
    return FaceSet(identity=identity, sources=tuple(str(f) for f in files), source_sha256=tuple(hashes), key=key, **arrays)
