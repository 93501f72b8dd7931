"""Extra real identities from still photos, for training detectors only.

Why: a detector learns what a blend looks like from real faces and their self-blends, and with the
13 identities of our videos' train split it learnt each video's look as much as the blend (test
scores shifted by several logits per video, real or fake). Moving 4 of the 6 validation identities
into training lifted the identity-disjoint test AUC from 0.88 to 0.93 (these photos: 0.94), so identities are what is
short. Still photos of other people (``../shared/data/faces``) add them without touching the
video splits: every photo item goes to the train split, with method ``photo``, and training uses
them only as sources of online self-blends, each paired with its own blend, so "looks like a
photo" can never predict the label.

Layout: the same as a test set (``DIR/manifest.csv`` + ``DIR/crops/*.npz``), so
``fakescope detector train --data TESTSET PHOTOSET`` reads both. Rows carry no video (``path`` is
empty): this directory is for training, not for ``fakescope audit``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.atomicio import write_bytes_atomic
from fakescope.core.hashing import sha256_file
from fakescope.core.manifest import PHOTO_METHOD, write_manifest

MAX_SIDE = 1024  # large photos are downscaled before face detection (HOG cost grows with area)
# Recognised by content, not name: the Yale faces are GIFs named "subject01.happy".
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF87a", b"GIF89a", b"BM", b"P5", b"P6", b"P2", b"P3", b"II*\x00", b"MM\x00*")


def _is_image(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and p.suffix.lower() == ".webp")


def subject_of(photo: Path, root: Path) -> str:
    """One identity per person where the layout says who it is: a folder per person (ORL ``s7/``),
    or a ``subjectNN.`` file prefix (Yale); otherwise one per photo."""
    m = re.match(r"(subject\d+)\.", photo.name)
    rel = photo.parent.relative_to(root) if photo.parent != root else Path()
    base = "_".join([root.name, *rel.parts])
    if m:
        return f"{base}_{m.group(1)}"
    if re.fullmatch(r"s\d+", photo.parent.name):
        return base
    return f"{base}_{photo.stem}"


def find_photos(dirs: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """(photo, root) pairs under each directory, sorted, skipping non-images by name."""
    out = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise ValueError(f"{d} is not a directory of photos; pass folders with --faces")
        out += [(p, d) for p in sorted(d.rglob("*")) if p.is_file() and _is_image(p)]
    return out


def _read(photo: Path) -> np.ndarray | None:
    img = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if img is None:
        return None
    s = max(img.shape[:2])
    if s > MAX_SIDE:
        f = MAX_SIDE / s
        img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
    return img


def build_photo_reals(dirs: Sequence[str | Path], out_dir: Path, crop_size: int = 160, progress: bool = True) -> Path:
    """Align the largest face of every photo and write one train-split item per person; returns the manifest."""
    from tqdm import tqdm

    from fakescope.core.faces import align_face, detect_landmarks_image

    photos = find_photos(dirs)
    if not photos:
        raise ValueError("no photos found: pass folders holding face images with --faces")
    out_dir = Path(out_dir)
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    groups: dict[str, dict[str, list]] = {}
    skipped = 0
    for photo, root in tqdm(photos, unit="photo", desc="photos", disable=not progress):
        img = _read(photo)
        found = detect_landmarks_image(img, upsample=1 if max(img.shape[:2]) < 400 else 0) if img is not None else []
        if not found:
            skipped += 1
            continue
        a = align_face(img, found[0], size=crop_size, margin=0.3)  # the margin every test-set crop uses
        g = groups.setdefault(subject_of(photo, root), {"images": [], "masks": [], "sources": []})
        g["images"].append(a.image)
        g["masks"].append((a.mask * 255).astype(np.uint8))
        g["sources"].append(str(photo))
    rows = []
    for ident, g in sorted(groups.items()):
        buf = io.BytesIO()
        np.savez_compressed(buf, images=np.asarray(g["images"], np.uint8), masks=np.asarray(g["masks"], np.uint8),
                            frames=np.arange(len(g["images"]), dtype=np.int64))
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", ident)
        write_bytes_atomic(out_dir / "crops" / f"{name}.npz", buf.getvalue())
        rows.append({"path": "", "label": "real", "source": g["sources"][0], "identity": ident, "method": PHOTO_METHOD,
                     "params": json.dumps({"photos": len(g["sources"])}), "seed": 0, "split": "train",
                     "sha256": sha256_file(Path(g["sources"][0])), "crops": f"crops/{name}.npz",
                     "source_start_frame": 0, "frames": len(g["sources"])})
    if not rows:
        raise ValueError(f"no face was found in any of {len(photos)} photos")
    if progress and skipped:
        print(f"{skipped} of {len(photos)} photos had no detectable face and were skipped")
    return write_manifest(out_dir, rows)
