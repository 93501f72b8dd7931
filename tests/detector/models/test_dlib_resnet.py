"""dlib's face-recognition ResNet rebuilt in PyTorch."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from detector.dlib_import import dlib_state_dict
from detector.io import preprocess_crops
from detector.models.dlib_resnet import DLIB_MEAN, DLIB_STD, INPUT_SIZE, _add_padded
from detector.registry import create_detector, detector_spec
from fakescope.core.embedding import chip_descriptor


def test_registered_at_dlibs_input_size_with_one_logit() -> None:
    spec = detector_spec("dlib_resnet")
    assert spec.input_size == INPUT_SIZE == 150
    m = create_detector("dlib_resnet").eval()
    x = torch.randn(2, 3, 150, 150)
    assert m(x).shape == (2,)
    assert m.features(x).shape == (2, 256, 2, 2)  # dlib's last block sums a 1x1 conv output into a 2x2 pool


def test_sums_of_unequal_tensors_zero_pad_the_smaller_at_the_end() -> None:
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 4, 4), 10.0)
    s = _add_padded(a, b)
    assert s.shape == (1, 4, 4, 4)
    assert float(s[0, 0, 0, 0]) == 11.0 and float(s[0, 0, 3, 3]) == 10.0 and float(s[0, 3, 0, 0]) == 10.0


def test_imported_weights_give_dlibs_own_descriptor(face: tuple[np.ndarray, np.ndarray]) -> None:
    img, _ = face
    chip = cv2.resize(img, (150, 150), interpolation=cv2.INTER_AREA)
    expected = chip_descriptor(chip)
    m = create_detector("dlib_resnet")
    m.load_state_dict(dlib_state_dict(), strict=False)
    x = preprocess_crops(chip[None], INPUT_SIZE, DLIB_MEAN, DLIB_STD)  # what training and the scan feed it
    with torch.no_grad():
        got = m.embed(x.contiguous())[0].numpy()
    assert np.abs(got - expected).max() < 1e-4
    # a different face is far from it, so the match above is not a constant output
    with torch.no_grad():
        other = m.embed(torch.flip(x, dims=(2,)).contiguous())[0].numpy()
    assert np.linalg.norm(other - expected) > 0.1
