import numpy as np
import pytest

from detector.augment import AugmentConfig, augment_batch, augment_batch_with_masks, augment_crop


def _img(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48, 3), dtype=np.uint8)


def test_same_seed_same_result_and_shape_kept():
    imgs = np.stack([_img(i) for i in range(4)])
    cfg = AugmentConfig(p=1.0)
    a = augment_batch(imgs, np.random.default_rng(0), cfg)
    b = augment_batch(imgs, np.random.default_rng(0), cfg)
    assert a.shape == imgs.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, imgs)


def test_disabled_operations_leave_the_crop_alone():
    img = _img()
    out = augment_crop(img, np.random.default_rng(0), AugmentConfig(p=0.0, flip=False))
    assert np.array_equal(out, img)


def test_degradations_remove_high_frequency_detail():
    img = _img()
    cfg = AugmentConfig(p=1.0, flip=False, jitter=0.0)
    out = augment_crop(img, np.random.default_rng(1), cfg)
    hf = lambda a: np.abs(np.diff(a.astype(np.float32), axis=1)).mean()  # noqa: E731
    assert hf(out) < 0.5 * hf(img)


def test_flip_mirrors_horizontally():
    img = _img()
    outs = [augment_crop(img, np.random.default_rng(s), AugmentConfig(p=0.0)) for s in range(8)]
    assert any(np.array_equal(o, img[:, ::-1]) for o in outs)
    assert any(np.array_equal(o, img) for o in outs)


def test_masks_follow_their_crops_through_the_mirror():
    imgs = np.stack([_img(i) for i in range(8)])
    masks = np.zeros((8, 48, 48), np.uint8)
    masks[:, 10:40, 4:20] = 255  # off-centre, so a mirror is visible
    seeds = np.arange(8) + 100
    cfg = AugmentConfig(p=0.5)
    out, out_masks = augment_batch_with_masks(imgs, masks, cfg, seeds)
    assert np.array_equal(out, augment_batch(imgs, np.random.default_rng(0), cfg, seeds=seeds))
    mirrored = [bool(m[:, 28:44].any()) for m in out_masks]
    assert any(mirrored) and not all(mirrored)
    for m, flip in zip(out_masks, mirrored, strict=True):
        assert np.array_equal(m, masks[0][:, ::-1] if flip else masks[0])


def test_defocus_blurs_only_beyond_the_face_hull_and_follows_the_seed():
    from detector.augment import AugmentConfig, augment_batch_with_masks, defocus_background

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8)  # sharp noise everywhere
    hull = np.zeros((96, 96), np.uint8)
    hull[30:66, 30:66] = 255
    cfg = AugmentConfig(defocus=1.0, defocus_sigma=(3.0, 3.0), defocus_margin=(0.1, 0.1))
    out = defocus_background(img, hull, np.random.default_rng(1), cfg)
    assert np.array_equal(out[34:62, 34:62], img[34:62, 34:62])  # the face (and its seam band) stays sharp
    assert out[:12].astype(float).std() < 0.5 * img[:12].astype(float).std()  # the background is blurred
    # with the hull and one seed, a crop and its self-blend twin get the same defocus
    imgs, seeds = np.stack([img, img]), np.array([7, 7])
    a, _ = augment_batch_with_masks(imgs, np.zeros((2, 96, 96), np.float32), cfg, seeds, np.stack([hull, hull]))
    assert np.array_equal(a[0], a[1]) and not np.array_equal(a[0], img)
    with pytest.raises(ValueError, match="defocus is a probability"):
        AugmentConfig(defocus=1.5)


def _textured(seed: int, sigma: float) -> np.ndarray:
    import cv2

    img = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return img if sigma == 0 else cv2.GaussianBlur(img, (0, 0), sigma)


def test_matched_pairs_leave_no_detail_difference_between_real_and_fake():
    """A sharp real beside a soft fake (our generator's look) is blurred to the fake's detail; the
    soft one is never touched and a batch without both classes is left alone."""
    from detector.augment import crop_detail, match_detail

    hull = np.zeros((64, 64), np.uint8)
    hull[16:48, 16:48] = 255
    imgs = np.stack([_textured(0, 0.0), _textured(1, 1.2), _textured(2, 1.2), _textured(3, 0.0)])
    labels = np.array([0, 1, 1, 0])
    hulls = np.stack([hull] * 4)
    out = match_detail(imgs, labels, hulls, np.random.default_rng(0), p=1.0)
    soft = crop_detail(imgs[1], hull)
    for i in (0, 3):  # the sharp reals now hold about the fakes' detail, not more
        assert 0.5 * soft < crop_detail(out[i], hull) <= 1.05 * soft
    assert np.array_equal(out[1], imgs[1]) and np.array_equal(out[2], imgs[2])
    assert np.array_equal(match_detail(imgs, np.zeros(4, int), hulls, np.random.default_rng(0), 1.0), imgs)
    assert np.array_equal(match_detail(imgs, labels, hulls, np.random.default_rng(0), 0.0), imgs)
    # and the other way round: a fake sharper than its real is blurred instead
    out = match_detail(imgs, 1 - labels, hulls, np.random.default_rng(0), p=1.0)
    assert crop_detail(out[0], hull) <= 1.05 * soft and np.array_equal(out[1], imgs[1])


def test_match_detail_is_a_probability():
    with pytest.raises(ValueError, match="match_detail"):
        AugmentConfig(match_detail=1.5)
