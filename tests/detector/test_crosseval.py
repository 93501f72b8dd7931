"""`fakescope detector eval`: labelled face crops are padded, aligned as the scan aligns, scored, cached."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import detector.crosseval as crosseval
from detector.crosseval import align_manifest, evaluate_manifests
from fakescope.cli import main


@pytest.fixture
def crops_manifest(tmp_path: Path, face: tuple[np.ndarray, np.ndarray]) -> Path:
    """Tight 160 px face crops (like DFDC's) labelled real/fake, one image without a face, two sources."""
    img, _ = face
    d = tmp_path / "set"
    (d / "img").mkdir(parents=True)
    rows = ["path,label,source"]
    variants = {
        "real_a": (img, "real", "studio"), "real_b": (cv2.flip(img, 1), "real", "phone"),
        "fake_a": (cv2.GaussianBlur(img, (0, 0), 2.5), "fake", "studio"),
        "fake_b": (cv2.flip(cv2.GaussianBlur(img, (0, 0), 2.5), 1), "fake", "phone"),
        "noface": (np.random.default_rng(0).integers(0, 255, img.shape, dtype=np.uint8), "fake", "phone"),
    }
    for name, (im, label, source) in variants.items():
        cv2.imwrite(str(d / "img" / f"{name}.png"), im)
        rows.append(f"img/{name}.png,{label},{source}")
    (d / "manifest.csv").write_text("\n".join(rows) + "\n")
    return d / "manifest.csv"


def test_tight_crops_are_found_aligned_and_cached(crops_manifest: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    photos = align_manifest(crops_manifest, 96, tmp_path / "cache", progress=False)
    assert photos.found.tolist() == [True, True, True, True, False]
    assert photos.crops.shape == (5, 96, 96, 3) and photos.labels.tolist() == [0, 0, 1, 1, 1]
    assert photos.crops[0].std() > 10 and photos.masks[0].mean() > 50  # a face with its hull
    monkeypatch.setattr(crosseval, "landmarks_padded", lambda *a, **k: pytest.fail("cache not used"))
    again = align_manifest(crops_manifest, 96, tmp_path / "cache", progress=False)
    assert np.array_equal(again.crops, photos.crops) and again.groups == photos.groups


def test_eval_reports_auc_interval_ece_and_sources(crops_manifest: Path, tmp_path: Path) -> None:
    [r] = evaluate_manifests(["default"], [crops_manifest], tmp_path / "cache", n_boot=50, progress=False)
    assert (r.images, r.with_face) == (5, 4)
    assert r.auc is not None and 0.0 <= r.auc_low <= r.auc <= r.auc_high <= 1.0
    assert r.ece is not None and 0.0 <= r.ece <= 1.0
    assert set(r.per_source) == {"studio", "phone"} and r.per_source["studio"]["images"] == 2


def test_cli_prints_and_writes_json_and_refuses_a_bad_label(crops_manifest: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval.json"
    assert main(["detector", "eval", "--data", str(crops_manifest), "--json", str(out), "--cache",
                 str(tmp_path / "c"), "--n-boot", "20", "--quiet"]) == 0
    assert "frame AUC" in capsys.readouterr().out
    assert json.loads(out.read_text())[0]["with_face"] == 4
    crops_manifest.write_text(crops_manifest.read_text().replace("real,studio", "maybe,studio"))
    assert main(["detector", "eval", "--data", str(crops_manifest), "--cache", str(tmp_path / "c2"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "label must be real or fake" in err[0]


@pytest.mark.slow
def test_a_training_run_reports_the_cross_dataset_figure_beside_the_in_domain_one(
        crops_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from detector.model_card import model_card

    from .conftest import build_testset

    data = build_testset(tmp_path / "ts", videos_per_split={"train": 2, "val": 2, "test": 2}, frames=4, size=40)
    out = tmp_path / "model"
    assert main(["detector", "train", "--data", str(data), "--out", str(out), "--arch", "meso4", "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "8", "--input-size", "32", "--quiet",
                 "--cross", str(crops_manifest), "--cache", str(tmp_path / "c")]) == 0
    printed = capsys.readouterr().out
    assert "in-domain test video AUC" in printed and "cross-dataset frame AUC" in printed
    assert json.loads((out / "crossdataset.json").read_text())[0]["with_face"] == 4
    assert "| set | images with a face |" in model_card(out)
