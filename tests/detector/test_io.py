import json
from pathlib import Path

import numpy as np
import pytest
import torch

import detector.io as dio
from detector.io import load_model, preprocess_crops, save_model
from detector.registry import create_detector, detector_spec, list_detectors

CASES = [(name, {}) for name in list_detectors()] + [("patchgan", {"spectral": True})]


def _config(arch: str, kwargs: dict, size: int = 64) -> dict:
    spec = detector_spec(arch)
    return {
        "arch": arch,
        "kwargs": kwargs,
        "input_size": size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "calibration": {"method": "temperature", "temperature": 2.0},
        "threshold": 0.7,
    }


def _trained(arch: str, kwargs: dict) -> torch.nn.Module:
    """One optimiser step so BN statistics and spectral-norm vectors differ from their init values."""
    torch.manual_seed(0)
    model = create_detector(arch, **kwargs).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.randn(4, detector_spec(arch).in_channels, 64, 64)).square().mean()
    loss.backward()
    opt.step()
    return model.eval()


@pytest.mark.parametrize(("arch", "kwargs"), CASES)
def test_save_load_gives_identical_weights_and_outputs(tmp_path, arch, kwargs):
    model = _trained(arch, kwargs)
    save_model(model, _config(arch, kwargs), tmp_path / "m")
    det = load_model(tmp_path / "m")
    original = model.state_dict()
    loaded = det.model.state_dict()
    assert original.keys() == loaded.keys()
    assert all(torch.equal(original[k], loaded[k]) for k in original)
    cfg = _config(arch, kwargs)
    crops = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    masks = np.zeros((5, 64, 64), np.uint8)
    masks[:, 12:52, 16:48] = 255
    masks = masks if det.needs_mask else None
    with torch.inference_mode():
        expected = model(preprocess_crops(crops, 64, cfg["mean"], cfg["std"], masks))
    np.testing.assert_allclose(
        det.predict_logits(crops, batch_size=2, masks=masks), expected.numpy(), rtol=1e-5, atol=1e-5
    )


def test_loaded_detector_api(tmp_path):
    model = _trained("meso4", {})
    save_model(model, _config("meso4", {}), tmp_path / "m")
    det = load_model(tmp_path / "m")
    assert det.threshold == 0.7
    assert det.name == "m"
    assert det.sha256 == dio.sha256_file(tmp_path / "m" / "model.safetensors")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["weights_sha256"] == det.sha256
    crops = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    z = det.predict_logits(crops)
    np.testing.assert_allclose(det.predict_proba(crops), 1 / (1 + np.exp(-z / 2.0)), rtol=1e-5)
    assert det.predict_logits(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0,)


def test_crops_are_resized_and_converted_from_bgr(tmp_path):
    save_model(_trained("meso4", {}), _config("meso4", {}, size=64), tmp_path / "m")
    det = load_model(tmp_path / "m")
    rng = np.random.default_rng(2)
    small = np.repeat(np.repeat(rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), 2, axis=1), 2, axis=2)
    big = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)  # 128 px, block-constant: area resize is exact
    np.testing.assert_allclose(det.predict_logits(big), det.predict_logits(small), rtol=1e-5, atol=1e-5)
    x = preprocess_crops(small[:, :, :, ::-1].copy(), 64, [0, 0, 0], [1, 1, 1])
    np.testing.assert_allclose(x[:, 0].numpy() * 255, small[..., 0].astype(np.float32), atol=1e-3)  # BGR->RGB


def test_differentiable_path_matches_predict(tmp_path):
    save_model(_trained("mobilenet_v3_small", {}), _config("mobilenet_v3_small", {}), tmp_path / "m")
    det = load_model(tmp_path / "m")
    crops = np.random.default_rng(3).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    rgb = torch.from_numpy(crops[..., ::-1].copy()).permute(0, 3, 1, 2).float().div(255).requires_grad_(True)
    logits = det.model(det.normalise(rgb))
    np.testing.assert_allclose(logits.detach().numpy(), det.predict_logits(crops), rtol=1e-4, atol=1e-5)
    logits.sum().backward()
    assert rgb.grad is not None and rgb.grad.abs().sum() > 0


def test_bad_inputs_give_clear_errors(tmp_path):
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "m")
    det = load_model(tmp_path / "m")
    with pytest.raises(ValueError, match="uint8"):
        det.predict_logits(np.zeros((2, 64, 64, 3), np.float32))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="lacks model.safetensors, config.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(ValueError, match="neither a model directory"):
        load_model(tmp_path / "nope")
    with pytest.raises(ValueError, match="lacks"):
        save_model(det.model, {"arch": "meso4"}, tmp_path / "x")


def test_weights_that_do_not_match_config_are_refused(tmp_path):
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "a")
    save_model(_trained("patchgan", {}), _config("patchgan", {}), tmp_path / "b")
    (tmp_path / "a" / "model.safetensors").write_bytes((tmp_path / "b" / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="sha256 differs"):
        load_model(tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    del cfg["weights_sha256"]
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not match architecture"):
        load_model(tmp_path / "a")


def test_shipped_names_resolve_under_weights_root(tmp_path, monkeypatch):
    monkeypatch.setattr(dio, "weights_root", lambda: tmp_path / "weights")
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "weights" / "default")
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "weights" / "meso_small")
    (tmp_path / "weights" / "unfinished").mkdir()
    assert dio.list_weights() == ["default", "meso_small"]
    assert load_model().path == tmp_path / "weights" / "default"
    assert load_model("meso_small").name == "meso_small"
    with pytest.raises(ValueError, match="lacks"):
        load_model("unfinished")
    monkeypatch.chdir(tmp_path)
    assert load_model(Path("weights") / "meso_small").name == "meso_small"  # a path works too


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "m")
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "m")  # overwrite in place
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]


def test_bf16_inference_follows_the_config_unless_overridden(tmp_path):
    model = _trained("patchgan", {})
    save_model(model, dict(_config("patchgan", {}), bf16_inference=True), tmp_path / "m")
    det = load_model(tmp_path / "m")
    crops = np.random.default_rng(4).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    default, fp32 = det.predict_logits(crops), det.predict_logits(crops, bf16=False)
    assert np.array_equal(default, det.predict_logits(crops, bf16=True))
    assert not np.array_equal(default, fp32)  # bf16 rounding shows
    np.testing.assert_allclose(default, fp32, atol=0.05 * (np.abs(fp32).max() + 1e-3))


def test_mask_models_read_the_hull_and_refuse_to_run_without_it(tmp_path):
    model = _trained("meso4_contrast_mask", {})
    save_model(model, _config("meso4_contrast_mask", {}), tmp_path / "m")
    det = load_model(tmp_path / "m")
    assert det.needs_mask and not load_model(_save_rgb(tmp_path)).needs_mask
    crops = np.random.default_rng(2).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="masks="):
        det.predict_logits(crops)
    small, large = np.zeros((3, 64, 64), np.uint8), np.zeros((3, 64, 64), np.uint8)
    small[:, 24:40, 24:40] = 255
    large[:, 8:56, 8:56] = 255
    assert not np.allclose(det.predict_logits(crops, masks=small), det.predict_logits(crops, masks=large))
    # float masks in [0, 1] (AlignedFace.mask) and uint8 masks (test-set crops) are the same input,
    # and masks at the crop's own size are resized with it
    np.testing.assert_allclose(det.predict_logits(crops, masks=small), det.predict_logits(crops, masks=small / 255.0),
                               rtol=1e-5, atol=1e-5)
    big = np.stack([np.kron(c, np.ones((2, 2, 1), np.uint8)) for c in crops])
    big_masks = np.stack([np.kron(m, np.ones((2, 2), np.uint8)) for m in small])
    assert det.predict_logits(big, masks=big_masks).shape == (3,)
    with pytest.raises(ValueError, match="one mask per crop"):
        det.predict_logits(crops, masks=small[:2])


def _save_rgb(tmp_path: Path) -> Path:
    save_model(_trained("meso4", {}), _config("meso4", {}), tmp_path / "rgb")
    return tmp_path / "rgb"
