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

import fnmatch
import io
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.atomicio import write_bytes_atomic
from fakescope.core.hashing import sha256_bytes, sha256_file
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


def find_photos(dirs: Sequence[str | Path], exclude: Sequence[str] = ()) -> list[tuple[Path, Path]]:
    """(photo, root) pairs under each directory, sorted, skipping non-images by name.

    ``exclude``: glob patterns matched against each photo's path relative to its folder (e.g.
    ``Donald_Trump/*``): people who appear in a test set's videos must not become training reals,
    or the test split is no longer identity-disjoint."""
    out = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise ValueError(f"{d} is not a directory of photos; pass folders with --faces")
        out += [(p, d) for p in sorted(d.rglob("*")) if p.is_file() and _is_image(p)
                and not any(fnmatch.fnmatchcase(p.relative_to(d).as_posix(), pat) for pat in exclude)]
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


CHUNK = 256  # photos aligned between two progress saves
STORE_VERSION = 1  # of the partial-progress chunks; bump when the alignment changes


def align_photo(img: np.ndarray, crop_size: int) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The largest face aligned as every test-set crop is (image, hull mask, padded?); None: no face.

    A photo is searched as it is first; only where that finds nothing (a tight crop: the face fills
    the image) is it padded by reflection and searched again."""
    from fakescope.core.faces import detect_landmarks_image, landmarks_padded
    from generator.clips import stored_crop

    found = detect_landmarks_image(img, upsample=1 if max(img.shape[:2]) < 400 else 0)
    padded = False
    if found:
        image, lm = img, found[0]
    else:
        retry = landmarks_padded(img)  # the reflection padding `detector eval` uses for crops
        if retry is None:
            return None
        (image, lm), padded = retry, True
    crop, mask = stored_crop(image, lm, crop_size)
    return crop, mask, padded


def _listing_key(photos: Sequence[tuple[Path, Path]], crop_size: int) -> str:
    text = "\n".join(f"{p}\t{p.stat().st_size}" for p, _ in photos)
    return sha256_bytes(f"v{STORE_VERSION} {crop_size}\n{text}".encode())


def _open_progress(partial: Path, key: str) -> None:
    """Keep the chunks of an interrupted build of the same photo listing; start afresh otherwise."""
    stamp = partial / "listing.json"
    if stamp.is_file():
        try:
            same = json.loads(stamp.read_text()).get("key") == key
        except (OSError, json.JSONDecodeError):
            same = False
        if same:
            return
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    write_bytes_atomic(stamp, json.dumps({"key": key}).encode())


def _align_chunk(photos: Sequence[tuple[Path, Path]], crop_size: int, bar: Any) -> dict[str, np.ndarray]:
    index, images, masks, padded = [], [], [], []
    for i, (photo, _) in enumerate(photos):
        img = _read(photo)
        got = align_photo(img, crop_size) if img is not None else None
        bar.update(1)
        if got is None:
            continue
        index.append(i)
        images.append(got[0])
        masks.append(got[1])
        padded.append(got[2])
    return {"index": np.asarray(index, np.int64),
            "images": np.asarray(images, np.uint8).reshape(-1, crop_size, crop_size, 3),
            "masks": np.asarray(masks, np.uint8).reshape(-1, crop_size, crop_size),
            "padded": np.asarray(padded, bool)}


def build_photo_reals(dirs: Sequence[str | Path], out_dir: Path, crop_size: int = 160, progress: bool = True,
                      chunk: int = CHUNK, exclude: Sequence[str] = ()) -> Path:
    """Align the largest face of every photo and write one train-split item per person; returns the manifest.

    Long builds (10,000+ photos) save their progress every ``chunk`` photos under ``OUT/.partial``;
    running the same command again after an interruption aligns only the photos not yet done. The
    finished set is written only when every photo has been seen."""
    from tqdm import tqdm

    photos = find_photos(dirs, exclude)
    if not photos:
        raise ValueError("no photos found: pass folders holding face images with --faces (and check --exclude)")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 photo, got {chunk}")
    out_dir = Path(out_dir)
    partial = out_dir / ".partial"
    _open_progress(partial, _listing_key(photos, crop_size))
    starts = range(0, len(photos), chunk)
    done = {k for k in starts if (partial / f"chunk_{k:07d}.npz").is_file()}
    bar = tqdm(total=len(photos), unit="photo", desc="photos", disable=not progress,
               initial=sum(min(chunk, len(photos) - k) for k in done))
    for k in starts:
        if k in done:
            continue
        part = _align_chunk(photos[k:k + chunk], crop_size, bar)
        buf = io.BytesIO()
        np.savez(buf, **part)
        write_bytes_atomic(partial / f"chunk_{k:07d}.npz", buf.getvalue())
    bar.close()
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    groups: dict[str, dict[str, list]] = {}
    for k in starts:
        with np.load(partial / f"chunk_{k:07d}.npz", allow_pickle=False) as z:
            # each z[...] decodes the whole array again: read every array once per chunk
            index, images, masks, padded = z["index"], z["images"], z["masks"], z["padded"]
        for j, i in enumerate(index):
            photo, root = photos[k + int(i)]
            g = groups.setdefault(subject_of(photo, root), {"images": [], "masks": [], "sources": [], "padded": 0})
            g["images"].append(images[j])
            g["masks"].append(masks[j])
            g["sources"].append(str(photo))
            g["padded"] += int(padded[j])
    skipped = len(photos) - sum(len(g["sources"]) for g in groups.values())
    rows = []
    for ident, g in sorted(groups.items()):
        buf = io.BytesIO()
        np.savez_compressed(buf, images=np.asarray(g["images"], np.uint8), masks=np.asarray(g["masks"], np.uint8),
                            frames=np.arange(len(g["images"]), dtype=np.int64))
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", ident)
        write_bytes_atomic(out_dir / "crops" / f"{name}.npz", buf.getvalue())
        params = {"photos": len(g["sources"])} | ({"padded": g["padded"]} if g["padded"] else {})
        rows.append({"path": "", "label": "real", "source": g["sources"][0], "identity": ident, "method": PHOTO_METHOD,
                     "params": json.dumps(params), "seed": 0, "split": "train",
                     "sha256": sha256_file(Path(g["sources"][0])), "crops": f"crops/{name}.npz",
                     "source_start_frame": 0, "frames": len(g["sources"])})
    if not rows:
        raise ValueError(f"no face was found in any of {len(photos)} photos")
    if progress and skipped:
        print(f"{skipped} of {len(photos)} photos had no detectable face and were skipped")
    manifest = write_manifest(out_dir, rows)
    shutil.rmtree(partial)
    return manifest
