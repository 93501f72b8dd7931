"""FGSM and PGD attacks on a detector, applied to the face crop and pasted back into the video.

The perturbation is computed on the aligned crop the detector sees (epsilon in 1/255 units of
that crop), warped back into the frame and added only inside the dilated face hull, so the rest
of the frame is untouched. The clip is then H.264-encoded like every other item, and the score
"after" is measured on crops decoded from the written file: an attack that does not survive
compression is reported as such, not as a success.

The detector arrives as an AttackTarget of callables (``LoadedDetector.attack_target()`` builds
one), so the generator never imports a detector.

An attacked item is still a fake: it keeps the watermark of the item it was made from (re-embedded
if the attack and re-encode weakened it below a safe read-back) and gets its own signed C2PA
manifest naming the attack (generator.labels).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from fakescope.core.atomicio import write_bytes_atomic, write_json_atomic
from fakescope.core.faces import FaceTracker, align_face
from fakescope.core.video import iter_frames
from generator.clips import extract_crops, stable_rng
from generator.labels import encode_labelled, sign_video_bytes


def _to_tensor(crops_bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crops_bgr[..., ::-1])).permute(0, 3, 1, 2).float() / 255.0


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((x.clamp(0, 1) * 255.0 + 0.5).byte().permute(0, 2, 3, 1).numpy()[..., ::-1])


@dataclass(frozen=True)
class AttackTarget:
    """The detector under attack: its identity, crop size and two scoring callables."""

    name: str
    sha256: str
    crop_size: int
    # differentiable fake logits of RGB crops in [0, 1] (N, 3, S, S), with their face hulls or None
    logits: Callable[[torch.Tensor, np.ndarray | None], torch.Tensor]
    # calibrated video P(fake) of uint8 BGR crops (N, S, S, 3) and their hulls (or None)
    video_score: Callable[[np.ndarray, np.ndarray | None], float]


def attack_crops(target: AttackTarget, crops_bgr: np.ndarray, eps: float, method: str = "pgd", steps: int = 10,
                 alpha: float | None = None, seed: int = 0, masks: np.ndarray | None = None) -> np.ndarray:
    """Perturb uint8 BGR crops (N, S, S, 3) within an L-inf ball of ``eps``/255 to lower the fake logit
    (``masks``: the crops' face hulls, for detectors that read them; the hull itself is not attacked)."""
    if method not in ("fgsm", "pgd"):
        raise ValueError(f"unknown attack {method!r}; use 'fgsm' or 'pgd'")
    x0 = _to_tensor(crops_bgr)
    e = eps / 255.0
    if method == "fgsm":
        x = x0.clone().requires_grad_(True)
        target.logits(x, masks).sum().backward()
        adv = x0 - e * x.grad.sign()
    else:
        step = alpha if alpha is not None else 2.5 * e / steps
        gen = torch.Generator().manual_seed(seed)
        adv = (x0 + (torch.rand(x0.shape, generator=gen) * 2 - 1) * e).clamp(0, 1)
        for _ in range(steps):
            adv = adv.detach().requires_grad_(True)
            target.logits(adv, masks).sum().backward()
            adv = adv - step * adv.grad.sign()
            adv = torch.min(torch.max(adv, x0 - e), x0 + e).clamp(0, 1)
    return _to_uint8(adv.detach())


def paste_delta(frame: np.ndarray, aligned: Any, adv_crop: np.ndarray, feather: int = 3) -> np.ndarray:
    """Add the crop-space perturbation back into the frame, inside the face hull only."""
    h, w = frame.shape[:2]
    delta = adv_crop.astype(np.float32) - aligned.image.astype(np.float32)
    back = cv2.warpAffine(delta, aligned.inverse, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    mask = cv2.warpAffine(aligned.mask, aligned.inverse, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    if feather:
        mask = cv2.dilate(mask, np.ones((2 * feather + 1,) * 2, np.uint8))
    out = frame.astype(np.float32) + back * (mask[..., None] > 0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _video_score(target: AttackTarget, crops: dict[str, np.ndarray]) -> float | None:
    """Calibrated video score of an item's stored crops (``images`` and, if stored, ``masks``)."""
    if len(crops["images"]) == 0:
        return None
    return float(target.video_score(crops["images"], crops.get("masks")))


def attack_testset(out_dir: Path, cfg: Any, target: AttackTarget, progress: bool = True,
                   max_items: int = 12) -> list[str]:
    """Add attacked copies of test-split fake items to the test set in ``out_dir``; returns new item ids."""
    from tqdm import tqdm

    from fakescope.core.hashing import sha256_bytes

    rows = [json.loads(p.read_text()) for p in sorted((Path(out_dir) / "items").glob("*.json"))]
    victims = [r for r in rows if r["label"] == "fake" and r["split"] == "test" and r["method"] not in ("fgsm", "pgd")]
    victims = victims[:max_items]
    made: list[str] = []
    bar = tqdm(total=len(victims) * len(cfg.attack_eps), unit="item", desc=f"{cfg.attack}", disable=not progress)
    for row in victims:
        src = Path(out_dir) / row["path"]
        frames, lms = [], []
        tracker = FaceTracker()
        for i, ts, frame in iter_frames(src):
            faces = tracker.process(i, ts, frame)
            frames.append(frame)
            lms.append(min(faces, key=lambda f: f.track_id).landmarks if faces else None)
        with np.load(Path(out_dir) / row["crops"], allow_pickle=False) as z:
            before = _video_score(target, {k: z[k] for k in ("images", "masks") if k in z})
        if before is None:  # no face crops in this item: nothing to attack
            bar.update(len(cfg.attack_eps))
            continue
        for eps in cfg.attack_eps:
            item_id = f"{Path(row['path']).stem}_{cfg.attack}_e{eps}"
            sidecar = Path(out_dir) / "items" / f"{item_id}.json"
            if sidecar.exists():
                bar.update(1)
                continue
            seed = int(stable_rng(cfg.seed, item_id).integers(2**31))
            out_frames = []
            for frame, lm in zip(frames, lms, strict=True):
                if lm is None:
                    out_frames.append(frame)
                    continue
                a = align_face(frame, lm, size=target.crop_size, margin=0.3)
                adv = attack_crops(target, a.image[None], eps, cfg.attack, cfg.pgd_steps, seed=seed, masks=a.mask[None])[0]
                out_frames.append(paste_delta(frame, a, adv))
            clip = encode_labelled(out_frames, 25.0, 18, row["method"], Path(out_dir) / "items" / f".{item_id}.tmp.mp4",
                                   already_marked=True)
            video = Path(out_dir) / "items" / f"{item_id}.mp4"
            base = {k: v for k, v in json.loads(row["params"]).items() if k != "label"}
            params = {**base, "attack": cfg.attack, "epsilon": eps,
                      "steps": cfg.pgd_steps if cfg.attack == "pgd" else 1, "detector": target.name,
                      "detector_sha256": target.sha256, "score_before": round(before, 6),
                      "attacked_from": row["path"], "clean_sha256": row["sha256"], "base_method": row["method"]}
            signed = sign_video_bytes(clip.data, video.name, cfg.attack, params, watermark_payload=clip.payload,
                                      reproducible=True)
            assert signed.data is not None
            data = signed.data
            write_bytes_atomic(video, data)
            crops = extract_crops(video, lms, cfg.crop_size, cfg.crops_per_item)
            buf = io.BytesIO()
            np.savez_compressed(buf, **crops)
            write_bytes_atomic(Path(out_dir) / "crops" / f"{item_id}.npz", buf.getvalue())
            after = _video_score(target, crops)
            params = {**params, "score_after": None if after is None else round(after, 6),
                      "label": {**signed.as_params(), "watermark": clip.payload, "watermark_strength": clip.strength,
                                "watermark_score": round(clip.readback.score, 1)}}
            new = {**row, "path": f"items/{item_id}.mp4", "method": cfg.attack, "params": json.dumps(params, sort_keys=True),
                   "sha256": sha256_bytes(data), "crops": f"crops/{item_id}.npz"}
            write_json_atomic(sidecar, new)
            made.append(item_id)
            bar.update(1)
    bar.close()
    return made
