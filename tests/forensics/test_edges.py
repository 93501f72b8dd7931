from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.core.analyzers import CropCache
from fakescope.core.faces import align_face
from fakescope.core.types import FaceObservation, VideoInfo
from forensics.edges import (
    FEATURE_NAMES,
    N_SECTORS,
    SECTOR_FEATURES,
    WEIGHTS,
    EdgeAnalyzer,
    EdgeModel,
    edge_features,
    edge_heatmap,
    make_analyzer,
    sector_features,
)


@pytest.fixture(scope="module")
def crop(face):
    img, lm = face
    a = align_face(img, lm, 128)
    return a.image, a.mask


def paste(image: np.ndarray, mask: np.ndarray, region: np.ndarray | None = None) -> np.ndarray:
    """A crude face swap: a colour-shifted, blurred copy pasted through a feathered hull mask."""
    src = cv2.GaussianBlur(np.clip(image.astype(np.float32) * [1.0, 1.05, 1.12] + 8, 0, 255).astype(np.uint8), (0, 0), 1.2)
    m = cv2.erode((mask > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    if region is not None:
        m *= region
    soft = cv2.GaussianBlur(m, (0, 0), 2.0)[..., None]
    return (soft * src + (1 - soft) * image).astype(np.uint8)


def brighter(image: np.ndarray, delta: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) + delta, 0, 255).astype(np.uint8)


def test_feature_vector_shape_and_finite(crop):
    img, mask = crop
    f = edge_features(img, mask)
    assert f.shape == (len(FEATURE_NAMES),)
    assert np.all(np.isfinite(f))
    assert sector_features(img, mask).shape == (N_SECTORS, len(SECTOR_FEATURES))


def test_global_brightness_change_barely_moves_features_a_paste_does(crop):
    img, mask = crop
    f0 = edge_features(img, mask)
    moved_bright = np.linalg.norm(edge_features(brighter(img, 15), mask) - f0)
    # darkening clips the black hair around this face to 0, which removes some texture
    moved_dark = np.linalg.norm(edge_features(brighter(img, -10), mask) - f0)
    moved_paste = np.linalg.norm(edge_features(paste(img, mask), mask) - f0)
    assert moved_paste > 1.0
    assert moved_bright < 0.1 * moved_paste
    assert moved_dark < 0.15 * moved_paste


def test_heatmap_points_at_the_pasted_side(crop):
    img, mask = crop
    h, w = mask.shape
    top = np.zeros((h, w), np.float32)
    top[: h // 2] = 1.0  # blend only the upper half of the face
    faked = paste(img, mask, top)
    heat = edge_heatmap(faked, mask, alpha=1.0)
    assert heat.shape == img.shape and heat.dtype == np.uint8
    change = np.abs(sector_features(faked, mask) - sector_features(img, mask)).sum(axis=1)
    # sectors turn from the right-hand side through the chin (0..3) to the forehead (4..7)
    assert change[4:].sum() > 5 * change[:4].sum()


def test_empty_mask_is_a_clear_error(crop):
    img, _ = crop
    with pytest.raises(ValueError, match="mask"):
        edge_features(img, np.zeros(img.shape[:2], np.float32))


@pytest.mark.skipif(not WEIGHTS.exists(), reason="edge model weights not trained")
def test_shipped_model_scores_paste_above_original(crop):
    img, mask = crop
    model = EdgeModel()
    real = model.score(img, mask)
    assert model.score(paste(img, mask), mask) > real + 0.3
    assert abs(model.score(brighter(img, 15), mask) - real) < 0.15


@pytest.mark.skipif(not WEIGHTS.exists(), reason="edge model weights not trained")
def test_analyzer_scores_every_fifth_frame_per_track(face):
    img, lm = face
    analyzer = make_analyzer(None)
    assert isinstance(analyzer, EdgeAnalyzer)
    analyzer.start(VideoInfo("v.mp4", 12, 25.0, 160, 160, 0.48))
    crops = CropCache()
    for i in range(12):
        crops.reset(i, img)
        analyzer.update(i, i / 25, img, [FaceObservation(i, i / 25, 3, (0, 0, 160, 160), lm)], crops)
    ev = analyzer.finish()[3]
    assert ev.analyzer == "edges"
    assert [p[0] for p in ev.details["per_frame"]] == [0, 5, 10]
    assert ev.status == "ok"
    assert ev.score == pytest.approx(np.mean([p[1] for p in ev.details["per_frame"]]), abs=1e-3)
