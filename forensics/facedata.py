"""Real faces for training the forensic models: face regions with landmarks and an identity.

Why a region and not an aligned crop: self-blends must be made at the resolution of the source
(as a real face swap is), and JPEG applied to that region, before alignment resamples it. Regions
are cut around the landmarks with a generous margin and capped in size so a cache stays small.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from fakescope.core.faces import detect_landmarks_image
from fakescope.core.manifest import read_manifest
from fakescope.core.video import iter_frames, probe

VIDEO_EXT = {".mp4", ".mov", ".avi", ".mkv", ".webm"}
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class FaceSample:
    identity: str
    source: str
    region: np.ndarray  # BGR uint8 around the face
    landmarks: np.ndarray  # (68, 2) in region pixels


def cut_region(image: np.ndarray, landmarks: np.ndarray, margin: float = 0.6, max_face: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Square region around the face (``margin`` x face size on each side), face at most ``max_face`` px."""
    lm = np.asarray(landmarks, np.float64)
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    size = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = size * (0.5 + margin)
    scale = min(1.0, max_face / max(size, 1.0))
    out = int(round(2 * half * scale))
    m = np.array([[scale, 0, -(cx - half) * scale], [0, scale, -(cy - half) * scale]])
    region = cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT101)
    return region, (lm @ m[:, :2].T + m[:, 2]).astype(np.float32)


def _identity_of(path: Path, root: Path) -> str:
    """Videos are one identity each; photo folders named per person (face_recognition, att) use the folder."""
    rel = path.relative_to(root)
    if path.suffix.lower() in VIDEO_EXT:
        return rel.stem
    name = path.name
    if "yalefaces" in rel.parts:
        return name.split(".")[0]
    if "att_faces" in rel.parts or "knn_examples" in rel.parts:
        return path.parent.name
    return rel.stem


def _image_files(root: Path) -> list[Path]:
    files = []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        ext = p.suffix.lower()
        if ext in IMAGE_EXT or ext in VIDEO_EXT or ("yalefaces" in p.parts and ext not in {".txt", ""} and "subject" in p.name):
            files.append(p)
    return files


def _read_image(path: Path) -> np.ndarray | None:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:  # yalefaces are GIFs without extension, which imread refuses
        cap = cv2.VideoCapture(str(path))
        ok, img = cap.read()
        cap.release()
        if not ok:
            return None
    return img


def iter_real_faces(root: Path, frame_stride: int = 15, max_frames_per_video: int = 40, min_face: int = 60) -> Iterator[FaceSample]:
    """Every usable face in a data folder: photos, plus every ``frame_stride``-th video frame."""
    root = Path(root)
    for path in _image_files(root):
        ident = _identity_of(path, root)
        if path.suffix.lower() in VIDEO_EXT:
            info = probe(path)
            taken = 0
            for idx, _ts, frame in iter_frames(path, info):
                if idx % frame_stride or taken >= max_frames_per_video:
                    continue
                for lm in detect_landmarks_image(frame, upsample=0)[:1]:
                    if np.ptp(lm[:, 0]) >= min_face:
                        region, rlm = cut_region(frame, lm)
                        yield FaceSample(ident, f"{path.relative_to(root)}#{idx}", region, rlm)
                        taken += 1
        else:
            img = _read_image(path)
            if img is None:
                continue
            scale = min(1.0, 1024 / max(img.shape[:2]))
            small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img
            for lm in detect_landmarks_image(small, upsample=1 if max(small.shape[:2]) < 400 else 0)[:4]:
                lm = lm / scale
                if np.ptp(lm[:, 0]) >= min_face * 0.6:
                    region, rlm = cut_region(img, lm)
                    yield FaceSample(ident, str(path.relative_to(root)), region, rlm)


def load_or_collect(root: Path, cache: Path | None, **kwargs: int) -> list[FaceSample]:
    """Collect real faces once and keep them in an .npz cache (regions padded to one size)."""
    if cache is not None and cache.exists():
        d = np.load(cache, allow_pickle=False)
        return [FaceSample(str(i), str(s), r[: int(n), : int(n)], lm)
                for i, s, r, n, lm in zip(d["identity"], d["source"], d["regions"], d["sizes"], d["landmarks"], strict=True)]
    samples = list(iter_real_faces(root, **kwargs))
    if cache is not None and samples:
        side = max(s.region.shape[0] for s in samples)
        regions = np.zeros((len(samples), side, side, 3), np.uint8)
        for k, s in enumerate(samples):
            regions[k, : s.region.shape[0], : s.region.shape[1]] = s.region
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".npz")
        os.close(fd)
        np.savez_compressed(tmp, identity=np.array([s.identity for s in samples]), source=np.array([s.source for s in samples]),
                            regions=regions, sizes=np.array([s.region.shape[0] for s in samples]),
                            landmarks=np.stack([s.landmarks for s in samples]))
        os.replace(tmp, cache)
    return samples


def identity_split(identity: str, test_fraction: float = 0.25, salt: str = "fakescope") -> str:
    """Deterministic identity-disjoint split: 'test' or 'train'."""
    h = int(hashlib.sha256(f"{salt}:{identity}".encode()).hexdigest()[:8], 16)
    return "test" if (h % 1000) < test_fraction * 1000 else "train"


def _source_path(source: str) -> PurePosixPath:
    """A sample's or manifest row's source as a POSIX path, without any ``#frame`` suffix."""
    return PurePosixPath(str(source).split("#", 1)[0].replace("\\", "/"))


def source_key(source: str) -> str:
    """A face sample's or manifest row's video as ``folder/file``, ignoring any ``#frame`` suffix.

    Why the last two components only: a test set's manifest records its sources as the paths it was
    built from (absolute, or relative to wherever it was run), while face samples record them relative
    to the data root, so only the tail of the path is comparable."""
    return "/".join(_source_path(source).parts[-2:])


def heldout_sources(testsets: Iterable[Path] | None, splits: Sequence[str] = ("val", "test")) -> set[str] | None:
    """Source keys of every video the test sets use outside their train split (None without any
    test set: :func:`split_samples` then splits by :func:`identity_split`).

    Why: a forensic model trained on faces of the test set's validation or test identities would be
    measured (``fakescope audit``) and fused (``fakescope fusion fit``, on validation identities) on
    people it has already seen, which inflates both. Training with these sources excluded keeps the
    whole suite identity-disjoint from the test set, as the detector is."""
    if not testsets:
        return None
    keys: set[str] = set()
    for d in testsets:
        if not Path(d).is_dir():
            raise ValueError(f"{d} holds no manifest.csv; pass a directory made by 'fakescope testset build'")
        for row in read_manifest(d):
            if row.get("split") in splits and row.get("source"):
                keys.add(source_key(row["source"]))
    return keys


def split_samples(
    samples: Sequence[FaceSample], holdout_sources: set[str] | None = None
) -> tuple[list[FaceSample], list[FaceSample]]:
    """(train, held-out) faces, identity-disjoint.

    Without ``holdout_sources``: :func:`identity_split` of each identity. With them (see
    :func:`heldout_sources`): faces from those videos are held out and everything else
    trains (except photos of the same collections), so the model never sees a test set's
    validation or test identities.
    """
    if holdout_sources is None:
        return ([s for s in samples if identity_split(s.identity) == "train"],
                [s for s in samples if identity_split(s.identity) == "test"])
    held = [s for s in samples if source_key(s.source) in holdout_sources]
    if not held:
        raise ValueError("none of the collected faces comes from the test set's validation or test videos; "
                         "check that --data is the folder the test set was built from")
    held_ids = {s.identity for s in held}
    # A still photo from the same collection as a held-out video may show that person under another
    # name (a re-enactment's source image, a library's example portrait of the clip's star), so
    # photos of those collections do not train either.
    held_collections = {_collection(s.source) for s in held}
    train = [s for s in samples if s.identity not in held_ids
             and not (_is_photo(s.source) and _collection(s.source) in held_collections)]
    return train, held


def split_description(holdout_sources: set[str] | None) -> str:
    """How :func:`split_samples` split the faces, for a trained model's metadata."""
    if holdout_sources is None:
        return "identity_split(identity) == 'train' (forensics.facedata)"
    return f"all faces except the {len(holdout_sources)} validation/test videos of the given test set(s) and photos of their collections"


def _collection(source: str) -> str:
    """The data folder a sample came from: ``videos/LivePortrait/...`` and ``faces/LivePortrait/...`` -> ``LivePortrait``."""
    parts = _source_path(source).parts
    return parts[1] if len(parts) > 2 else str(PurePosixPath(*parts[:-1]))


def _is_photo(source: str) -> bool:
    return _source_path(source).suffix.lower() not in VIDEO_EXT
