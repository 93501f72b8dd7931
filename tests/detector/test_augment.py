import numpy as np

from detector.augment import AugmentConfig, augment_batch, augment_crop


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
