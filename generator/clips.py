"""What every test-set item shares, whoever makes it: seeded randomness, H.264 encoding, stored crops.

The builder (generator.testset) and the attacks (generator.attacks) both write items; keeping
these here lets them share one encoder without importing each other.
"""

from __future__ import annotations

import shutil
import subprocess
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fakescope.core.faces import align_face
from fakescope.core.video import iter_frames


def stable_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on the seed and the keys (never on the order items are made)."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def encode_h264(frames: Sequence[np.ndarray], fps: float, crf: int, tmp: Path) -> bytes:
    """Bit-exact H.264 of BGR frames (same frames, same bytes), via a temporary file ``tmp``."""
    h, w = frames[0].shape[:2]
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{fps:g}",
           "-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
           "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", str(tmp)]
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is required to build test sets (apt-get install ffmpeg)")
    proc = subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    data = tmp.read_bytes()
    tmp.unlink()
    return data


CROP_MARGIN = 0.3  # alignment margin of every stored test-set crop (the scan's, detector.analyzer)


def stored_crop(frame: np.ndarray, landmarks: np.ndarray, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(aligned BGR crop, face-hull mask as uint8 0/255): one frame as a test set stores it."""
    a = align_face(frame, landmarks, size=crop_size, margin=CROP_MARGIN)
    return a.image, (a.mask * 255).astype(np.uint8)


def extract_crops(video_path: Path, landmarks: Sequence[np.ndarray | None], crop_size: int,
                  crops_per_item: int) -> dict[str, np.ndarray]:
    """Aligned crops of evenly spaced frames, decoded from the written clip (so they carry its codec)."""
    valid = [i for i, lm in enumerate(landmarks) if lm is not None]
    pick = set(np.linspace(0, len(valid) - 1, min(crops_per_item, len(valid))).round().astype(int).tolist())
    chosen = {valid[i] for i in pick}
    images, masks, idx = [], [], []
    for index, _, frame in iter_frames(video_path):
        if index in chosen:
            image, mask = stored_crop(frame, landmarks[index], crop_size)
            images.append(image)
            masks.append(mask)
            idx.append(index)
    s = crop_size
    return {"images": np.asarray(images, np.uint8).reshape(-1, s, s, 3),
            "masks": np.asarray(masks, np.uint8).reshape(-1, s, s), "frames": np.asarray(idx, np.int64)}
