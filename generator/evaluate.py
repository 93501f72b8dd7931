"""``fakescope swap eval``: how well did a rendered swap transfer identity and keep expression?

Three questions, three measures:
- identity: is each swapped face nearer (in dlib's 128-d embedding) to the target's real faces
  than to the source's? Reported with the same fraction for the unswapped input as a baseline.
- expression: do the swapped frame's eyes and mouth sit where the input's did? Landmark error
  normalised by the inter-ocular distance, plus eye- and mouth-opening differences.
- reconstruction: SSIM (inside the face hull) of the source decoder on held-out frames, i.e.
  how much of the identity the model can reproduce at all.
Fine detail (Laplacian variance in the hull) is measured against the input and against the target
person's own real faces, so a soft swap can be told apart from a soft training set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from fakescope.core.atomicio import write_json_atomic, write_png_atomic
from fakescope.core.embedding import face_descriptor
from fakescope.core.faces import FacePipeline, align_face, detect_landmarks_image
from fakescope.core.video import IMAGE_SUFFIXES, probe
from generator.blend import laplacian_variance
from generator.losses import ssim
from generator.models import images_to_tensor
from generator.render import SwapEngine
from generator.threads import torch_threads

_EXPRESSION = slice(36, 68)  # eyes and mouth


@dataclass(frozen=True)
class EvalResult:
    frames_with_face: int  # input frames with a face
    frames_compared: int  # ... of which the swap still shows a detectable face
    fraction_nearer_target: float  # of frames_with_face; a swap with no detectable face counts as a miss
    baseline_fraction_nearer_target: float  # same measure on the unswapped input
    mean_distance_to_target: float | None
    mean_distance_to_source: float | None
    expression_error: float | None  # mean eye/mouth landmark distance / inter-ocular distance
    mouth_open_error: float | None  # mean |mouth aspect ratio difference|
    eye_open_error: float | None  # mean |eye aspect ratio difference|
    recon_ssim: float  # source decoder on the input's (held-out) faces, inside the hull
    swapped_faces_missing: int  # input frames with a face where none was found in the swap
    strip: Path
    metrics_json: Path
    # swap / input Laplacian variance inside the face hull (1.0: as sharp as the input); the
    # GAN's whole job is to raise this, which SSIM and identity distance barely register
    sharpness_ratio: float | None = None
    # The swapped face's detail over that of the target person's own real faces (1.0: the decoder
    # draws its person as sharp as its training faces are), and the target's faces' detail over
    # the input's. sharpness_ratio is about their product: a decoder trained on soft footage
    # cannot make a swap onto sharp footage as sharp as its input, however well it is trained.
    sharpness_vs_target_faces: float | None = None
    target_faces_vs_input: float | None = None

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["strip"], d["metrics_json"] = str(self.strip), str(self.metrics_json)
        return d


def eye_aspect_ratio(lm: np.ndarray) -> float:
    def one(e: np.ndarray) -> float:
        return float((np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2 * np.linalg.norm(e[0] - e[3]) + 1e-6))

    return 0.5 * (one(lm[36:42]) + one(lm[42:48]))


def mouth_aspect_ratio(lm: np.ndarray) -> float:
    gap = np.linalg.norm(lm[61] - lm[67]) + np.linalg.norm(lm[62] - lm[66]) + np.linalg.norm(lm[63] - lm[65])
    return float(gap / (3 * np.linalg.norm(lm[60] - lm[64]) + 1e-6))


def expression_error(input_lm: np.ndarray, swapped_lm: np.ndarray) -> float:
    iod = float(np.linalg.norm(input_lm[36] - input_lm[45])) + 1e-6
    return float(np.linalg.norm(input_lm[_EXPRESSION] - swapped_lm[_EXPRESSION], axis=1).mean() / iod)


def _largest(faces: list) -> np.ndarray | None:
    return max(faces, key=lambda f: f.size).landmarks if faces else None


# Reference faces per (sources, sizes, mtimes, count, detail px): their embeddings and fine detail
_REFERENCES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
DETAIL_SIZE = 128  # default px of the aligned face whose Laplacian variance is its "detail"


def _references(sources: list[Path], max_faces: int, size: int = DETAIL_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and detail of up to ``max_faces`` real faces spread evenly over the sources'
    frames. Cached per process: a benchmark evaluating several checkpoints reuses them."""
    key = (tuple((str(s), s.stat().st_size, s.stat().st_mtime_ns) for s in sources), max_faces, size)
    if key not in _REFERENCES:
        _REFERENCES[key] = _read_references(sources, max_faces, size)
    return _REFERENCES[key]


def identity_embeddings(sources: list[Path], max_faces: int = 40) -> np.ndarray:
    """dlib embeddings of up to ``max_faces`` real faces of one person (see :func:`_references`)."""
    return _references(sources, max_faces)[0]


def identity_detail(sources: list[Path], max_faces: int = 40, size: int = DETAIL_SIZE) -> float:
    """Median fine detail (Laplacian variance in the hull, at ``size`` px) of one person's real
    faces: the most a decoder trained on them can be expected to draw."""
    return float(np.median(_references(sources, max_faces, size)[1]))


def face_detail(frame: np.ndarray, landmarks: np.ndarray, size: int = DETAIL_SIZE) -> float:
    """Laplacian variance of the face aligned on ``landmarks``, inside its hull, at ``size`` px."""
    crop = align_face(frame, landmarks, size)
    return laplacian_variance(crop.image, crop.mask > 0.5)


def face_details(frame_in: np.ndarray, frame_sw: np.ndarray, lm_in: np.ndarray, size: int = DETAIL_SIZE) -> tuple[float, float]:
    """Detail of the input face and of the swapped one, both aligned on the input's landmarks (the
    swap is pasted where the input face was) and measured inside the input's hull."""
    a = align_face(frame_in, lm_in, size)
    inside = a.mask > 0.5
    return laplacian_variance(a.image, inside), laplacian_variance(align_face(frame_sw, lm_in, size).image, inside)


def _read_references(sources: list[Path], max_faces: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    embs: list[np.ndarray] = []
    detail: list[float] = []
    per_source = max(1, max_faces // max(len(sources), 1))
    for src in sources:
        if src.suffix.lower() in IMAGE_SUFFIXES:
            img = cv2.imread(str(src), cv2.IMREAD_COLOR)
            found = detect_landmarks_image(img) if img is not None else []
            if found:
                embs.append(face_descriptor(img, found[0]))
                detail.append(face_detail(img, found[0], size))
            continue
        info = probe(src)
        stride = max(1, info.frames // per_source)
        taken = 0
        for index, _ts, frame, faces in FacePipeline().run(src, info):
            lm = _largest(faces)
            if lm is not None and index % stride == 0:
                embs.append(face_descriptor(frame, lm))
                detail.append(face_detail(frame, lm, size))
                taken += 1
                if taken >= per_source:
                    break
    if not embs:
        raise ValueError(f"no faces found in {', '.join(map(str, sources))} to build an identity reference")
    return np.stack(embs), np.asarray(detail, np.float64)


def _sources_of(meta: dict[str, Any], name: str, references: dict[str, Path] | None) -> list[Path]:
    if references and name in references:
        src = Path(references[name])
        if src.is_dir():
            from generator.faceset import list_sources

            return list_sources(src)
        return [src]
    data = meta.get("data", {}).get(name)
    if data is None:
        raise ValueError(f"identity {name!r} is not part of this run; it knows {', '.join(meta.get('identities', []))}")
    paths = [Path(s) for s in data["sources"]]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ValueError(f"training sources of {name!r} moved ({missing[0]}); pass references={{'{name}': PATH}}")
    return paths


def _strip(pairs: list[tuple[np.ndarray, np.ndarray]], height: int = 256) -> np.ndarray:
    """Two rows (input over swap), one column per sampled frame, each scaled to ``height``."""
    def fit(img: np.ndarray) -> np.ndarray:
        w = round(img.shape[1] * height / img.shape[0])
        return cv2.resize(img, (w, height), interpolation=cv2.INTER_AREA)

    top = np.concatenate([fit(a) for a, _ in pairs], axis=1)
    bottom = np.concatenate([fit(b) for _, b in pairs], axis=1)
    for row, label in ((top, "input"), (bottom, "swap")):
        cv2.putText(row, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return np.concatenate([top, bottom], axis=0)


def evaluate_swap(
    run_dir: Path,
    input_video: Path,
    swapped_video: Path,
    source_identity: str,
    target_identity: str,
    out_dir: Path,
    references: dict[str, Path] | None = None,
    reference_faces: int = 40,
    max_frames: int | None = None,
    strip_frames: int = 6,
    progress: bool = True,
) -> EvalResult:
    """Compare ``swapped_video`` (a render of ``input_video`` as ``target_identity``) with its input.

    ``input_video`` should be held out from training (frames of ``source_identity`` the model
    never saw); references default to the run's training sources.
    """
    engine = SwapEngine(run_dir)
    meta = engine.meta
    for name in (source_identity, target_identity):
        engine.model.index(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    c_src = identity_embeddings(_sources_of(meta, source_identity, references), reference_faces).mean(0)
    tgt_sources = _sources_of(meta, target_identity, references)
    c_tgt = identity_embeddings(tgt_sources, reference_faces).mean(0)
    tgt_detail = identity_detail(tgt_sources, reference_faces, engine.preset.size)

    info_in, info_sw = probe(input_video), probe(swapped_video)
    n_est = min(info_in.frames, info_sw.frames, max_frames or 10**9)
    strip_at = set(np.linspace(0, max(n_est - 1, 0), strip_frames).round().astype(int).tolist())
    d_tgt, d_src, base_near, expr, mouth, eye, sharp = [], [], [], [], [], [], []
    detail_in, detail_sw = [], []
    crops, hulls, pairs = [], [], []
    missing = 0
    p = engine.preset
    stream = zip(FacePipeline().run(input_video, info_in), FacePipeline().run(swapped_video, info_sw), strict=False)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, total=n_est, desc="evaluate", unit="frame")
    for (index, _t, frame_in, faces_in), (_i2, _t2, frame_sw, faces_sw) in stream:
        if max_frames is not None and index >= max_frames:
            break
        lm_in = _largest(faces_in)
        if lm_in is None:
            continue
        crop = align_face(frame_in, lm_in, p.size, p.margin, p.shift_y)
        crops.append(crop.image)
        hulls.append(crop.mask)
        e_in = face_descriptor(frame_in, lm_in)
        base_near.append(float(np.linalg.norm(e_in - c_tgt)) < float(np.linalg.norm(e_in - c_src)))
        if index in strip_at:
            pairs.append((frame_in, frame_sw))
        lm_sw = _largest(faces_sw)
        if lm_sw is None:
            missing += 1
            continue
        d_in, d_sw = face_details(frame_in, frame_sw, lm_in, p.size)
        sharp.append(d_sw / d_in if d_in > 0 else 1.0)
        detail_in.append(d_in)
        detail_sw.append(d_sw)
        e_sw = face_descriptor(frame_sw, lm_sw)
        d_tgt.append(float(np.linalg.norm(e_sw - c_tgt)))
        d_src.append(float(np.linalg.norm(e_sw - c_src)))
        expr.append(expression_error(lm_in, lm_sw))
        mouth.append(abs(mouth_aspect_ratio(lm_in) - mouth_aspect_ratio(lm_sw)))
        eye.append(abs(eye_aspect_ratio(lm_in) - eye_aspect_ratio(lm_sw)))
    if not crops:
        raise ValueError(f"no face found in {input_video}; nothing to evaluate")

    recon = _recon_ssim(engine, np.stack(crops), np.stack(hulls), source_identity)
    strip_path = out_dir / "strip.png"
    write_png_atomic(strip_path, _strip(pairs))
    near = int(np.sum(np.asarray(d_tgt) < np.asarray(d_src)))
    result = EvalResult(
        frames_with_face=len(crops), frames_compared=len(d_tgt), fraction_nearer_target=near / len(crops),
        baseline_fraction_nearer_target=float(np.mean(base_near)),
        mean_distance_to_target=_mean(d_tgt), mean_distance_to_source=_mean(d_src),
        expression_error=_mean(expr), mouth_open_error=_mean(mouth), eye_open_error=_mean(eye),
        recon_ssim=recon, swapped_faces_missing=missing, strip=strip_path, metrics_json=out_dir / "metrics.json",
        sharpness_ratio=_mean(sharp),
        sharpness_vs_target_faces=float(np.mean(detail_sw)) / tgt_detail if detail_sw and tgt_detail > 0 else None,
        target_faces_vs_input=tgt_detail / float(np.median(detail_in)) if detail_in and np.median(detail_in) > 0 else None,
    )
    write_json_atomic(result.metrics_json, {
        **result.as_json(), "run_dir": str(run_dir), "step": engine.step, "input": str(input_video),
        "swapped": str(swapped_video), "source_identity": source_identity, "target_identity": target_identity,
        "train_seconds": meta.get("train_seconds"), "preset": p.name,
    }, sort_keys=True)
    return result


def face_sharpness_ratio(frame_in: np.ndarray, frame_sw: np.ndarray, lm_in: np.ndarray, size: int = DETAIL_SIZE) -> float:
    """Detail of the swapped face over the input's (see :func:`face_details`)."""
    base, swapped = face_details(frame_in, frame_sw, lm_in, size)
    return swapped / base if base > 0 else 1.0


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


@torch.inference_mode()
def _recon_ssim(engine: SwapEngine, crops: np.ndarray, hulls: np.ndarray, identity: str, chunk: int = 64) -> float:
    scores = []
    for i in range(0, len(crops), chunk):
        with torch_threads(1):  # see generator.threads: one thread is the robust choice on 2 shared cores
            rec, _ = engine.decode_faces(crops[i:i + chunk], identity)
        m = torch.from_numpy(hulls[i:i + chunk])[:, None]
        scores.append(ssim(images_to_tensor(rec), images_to_tensor(crops[i:i + chunk]), m))
    return float(torch.cat(scores).mean())
