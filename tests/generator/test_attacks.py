from pathlib import Path

import numpy as np
import pytest
import torch

from detector.io import load_model, save_model
from detector.registry import create_detector
from generator.attacks import attack_crops


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    torch.manual_seed(0)
    model = create_detector("meso4")
    out = save_model(model, {"arch": "meso4", "kwargs": {}, "input_size": 64, "crop_size": 80,
                             "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}, tmp_path_factory.mktemp("det"))
    return load_model(Path(out))


@pytest.fixture(scope="module")
def target(tiny_detector):  # noqa: ANN001, ANN201
    return tiny_detector.attack_target()


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_attack_lowers_the_detector_score_within_epsilon(tiny_detector, target, method: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    crops = rng.integers(40, 215, (6, 80, 80, 3), dtype=np.uint8)
    before = tiny_detector.predict_logits(crops)
    adv = attack_crops(target, crops, eps=4, method=method, steps=8)
    after = tiny_detector.predict_logits(adv)
    assert np.abs(adv.astype(int) - crops).max() <= 4 + 1  # L-inf ball (+1 for uint8 rounding)
    assert (after < before).mean() >= 0.8
    assert after.mean() < before.mean()


def test_unknown_attack_is_rejected(target) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="fgsm"):
        attack_crops(target, np.zeros((1, 80, 80, 3), np.uint8), 2, method="cw")


@pytest.mark.slow
def test_attacked_items_are_labelled_fakes(target, tmp_path: Path) -> None:  # noqa: ANN001
    """An attacked copy of a labelled fake keeps the watermark and gets its own manifest naming the attack."""
    import io
    import json

    from fakescope.core.faces import FaceTracker
    from fakescope.core.video import iter_frames
    from fakescope.provenance.credentials import read_content_credentials
    from generator.attacks import attack_testset
    from generator.clips import extract_crops
    from generator.labels import encode_labelled, read_file, sign_video_bytes
    from generator.testset import TestsetConfig

    clip = Path(__file__).resolve().parents[1] / "fixtures" / "talking_head.mp4"
    frames, lms, tracker = [], [], FaceTracker()
    for i, ts, f in iter_frames(clip):
        if i == 12:
            break
        f = np.ascontiguousarray(f[:500, :436])
        faces = tracker.process(i, ts, f)
        frames.append(f)
        lms.append(faces[0].landmarks if faces else None)
    items = tmp_path / "items"
    items.mkdir()
    (tmp_path / "crops").mkdir()
    labelled = encode_labelled(frames, 25.0, 18, "self_blend", items / ".tmp.mp4")
    params = {"frame_seed": 1, "perturb": {"crf": 18}}
    signed = sign_video_bytes(labelled.data, "a_s0_self_blend.mp4", "self_blend", params, reproducible=True)
    (items / "a_s0_self_blend.mp4").write_bytes(signed.data)
    crops = extract_crops(items / "a_s0_self_blend.mp4", lms, 80, 2)
    buf = io.BytesIO()
    np.savez_compressed(buf, **crops)
    (tmp_path / "crops" / "a_s0_self_blend.npz").write_bytes(buf.getvalue())
    row = {"path": "items/a_s0_self_blend.mp4", "label": "fake", "source": str(clip), "identity": "a",
           "method": "self_blend", "params": json.dumps({**params, "label": signed.as_params()}), "seed": 0,
           "split": "test", "sha256": signed.sha256, "crops": "crops/a_s0_self_blend.npz"}
    (items / "a_s0_self_blend.json").write_text(json.dumps(row))
    made = attack_testset(tmp_path, TestsetConfig(attack="fgsm", attack_eps=(4,), crop_size=80, crops_per_item=2),
                          target, progress=False)
    assert made == ["a_s0_self_blend_fgsm_e4"]
    new = json.loads((items / "a_s0_self_blend_fgsm_e4.json").read_text())
    video = tmp_path / new["path"]
    info, _ = read_content_credentials(video)
    assert info is not None and info["valid"] and info["ai_generated"]
    assert info["fakescope"]["method"] == "fgsm" and info["fakescope"]["params"]["base_method"] == "self_blend"
    mark = read_file(video)
    assert mark.found and mark.payload == "fakescope:self_blend"
    p = json.loads(new["params"])
    assert p["label"]["watermark"] == "fakescope:self_blend" and "content_sha256" in p["label"]
    assert p["label"]["content_sha256"] != json.loads(row["params"])["label"]["content_sha256"]
