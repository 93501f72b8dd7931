import detector.catalog as cat
import detector.io as dio
from detector.io import save_model
from detector.registry import create_detector


def test_lists_architectures_and_shipped_models(tmp_path, monkeypatch):
    monkeypatch.setattr(dio, "weights_root", lambda: tmp_path)
    monkeypatch.setattr(cat, "weights_root", lambda: tmp_path)
    config = {"arch": "meso4", "kwargs": {}, "input_size": 128, "mean": [0.5] * 3, "std": [0.5] * 3,
              "threshold": 0.42, "metrics": {"test": {"video_auc": 0.991}},
              "training_data": {"manifest_sha256": "ab" * 32}}  # fmt: skip
    save_model(create_detector("meso4"), config, tmp_path / "default")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    entries = cat.catalog()
    archs = [e.name for e in entries if e.kind == "architecture"]
    assert "meso4" in archs and "patchgan" in archs
    models = {e.name: e for e in entries if e.kind == "model"}
    assert models["default"].arch == "meso4" and len(models["default"].sha256) == 64
    assert (
        "test video AUC 0.991" in models["default"].summary and "threshold 0.420" in models["default"].summary
    )
    assert models["broken"].summary.startswith("unreadable config.json")
