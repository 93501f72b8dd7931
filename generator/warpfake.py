"""Face-warping-artifact pseudo-fakes (Li and Lyu, CVPR-W 2019).

Classic swap pipelines synthesise a face at low resolution and warp it back into the frame, which
leaves a resolution mismatch between the face and its surroundings. We reproduce just that step
on a real face: align it, shrink it, blur it, scale it back up and paste it inside a feathered
landmark-hull mask. Only pixels inside the dilated mask can change.
"""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.core.faces import align_face, hull_mask


def sample_warp_params(rng: np.random.Generator) -> dict[str, float | int]:
    return {
        "face_size": int(rng.choice([48, 64, 80, 96])),
        "blur_sigma": float(np.round(rng.uniform(0.4, 1.6), 2)),
        "feather": int(rng.choice([5, 9, 15])),
    }


def dilated_region(landmarks: np.ndarray, shape: tuple[int, int], feather: int) -> np.ndarray:
    """Boolean mask of every pixel a blend with this feather may touch."""
    m = (hull_mask(landmarks, shape) > 0).astype(np.uint8)
    k = 2 * feather + 3
    return cv2.dilate(m, np.ones((k, k), np.uint8)) > 0


def blend_mask(landmarks: np.ndarray, shape: tuple[int, int], feather: int) -> np.ndarray:
    """Hull mask eroded by ``feather`` and blurred, so the blend fades out inside the hull."""
    m = hull_mask(landmarks, shape)
    if feather > 0:
        k = 2 * feather + 1
        m = cv2.erode(m, np.ones((k, k), np.uint8))
        m = cv2.GaussianBlur(m, (0, 0), feather / 2.0)
    return m


def warp_fake_frame(frame: np.ndarray, landmarks: np.ndarray, params: dict[str, float | int]) -> tuple[np.ndarray, np.ndarray]:
    """Returns (fake frame, blend mask in frame coordinates)."""
    size = int(params["face_size"])
    aligned = align_face(frame, landmarks, size=size, margin=0.3)
    low = cv2.GaussianBlur(aligned.image, (0, 0), float(params["blur_sigma"]))
    h, w = frame.shape[:2]
    back = cv2.warpAffine(low, aligned.inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = blend_mask(landmarks, (h, w), int(params["feather"]))
    out = frame.astype(np.float32) * (1 - mask[..., None]) + back.astype(np.float32) * mask[..., None]
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    region = dilated_region(landmarks, (h, w), int(params["feather"]))
    out[~region] = frame[~region]
    return out, mask
