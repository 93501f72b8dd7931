from pathlib import Path

import pytest
import torch

from detector.io import save_model
from detector.registry import create_detector
from fakescope.cli import main


@pytest.fixture(scope="module")
def random_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_model(create_detector("meso4"), {"arch": "meso4", "kwargs": {}, "input_size": 64, "crop_size": 96,
                                                 "mean": [0.5] * 3, "std": [0.5] * 3, "name": "random"},
                      tmp_path_factory.mktemp("det"))


@pytest.mark.slow
def test_html_report_is_self_contained_and_holds_the_evidence(talking_head: Path, tmp_path: Path,
                                                             random_detector: Path) -> None:
    report = tmp_path / "r.html"
    assert main(["scan", str(talking_head), "--detector", str(random_detector), "--report", str(report),
                 "--no-log", "--quiet"]) == 0
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    for alt in ('alt="per-frame scores"', 'alt="eye aspect ratio"', 'alt="heatmap frame'):
        assert alt in html
    assert "Grad-CAM" in html and "sha256" in html and "random" in html
    assert 'src="http' not in html and "<script" not in html
    assert html.count("data:image/png;base64,") >= 4
    assert "in the verdict" in html  # the analyzer table says which evidence the fused verdict weighs


def _record(credentials: dict) -> dict:
    return {"file": "clip.mp4", "sha256": "0" * 64, "verdict": "fake", "fake_probability": 0.99, "reason": "",
            "video": {"frames": 30, "fps": 25.0, "width": 64, "height": 64, "duration_s": 1.2},
            "faces": {"frames_with_face": 30, "tracks": 1}, "selected_track": 0,
            "analyzers": {"credentials": credentials}, "fusion": {"weighed": ["credentials"]},
            "timing": {"seconds": 1.0, "frames_per_second": 30.0}, "versions": {"fakescope": "0", "models": {}}}


def test_report_shows_content_credentials_in_plain_words(tmp_path: Path) -> None:
    from fakescope.report.scan_report import write_scan_report

    signed = {"score": 0.999, "status": "ok", "reason": "a valid C2PA manifest declares AI-generated content",
              "c2pa": {"valid": True, "trusted": False, "claim_generator": "fakescope 0.1.0",
                       "signer": "fakescope generator ab12 (fakescope local signer)", "ai_generated": True,
                       "errors": [], "digital_source_types": ["trainedAlgorithmicMedia"],
                       "fakescope": {"method": "ae_swap"}},
              "watermark": {"found": True, "payload": "fakescope:ae_swap", "score": 21.3, "threshold": 7.5}}
    html = write_scan_report([_record(signed)], tmp_path / "a.html").read_text()
    for text in ("Content credentials", "valid signature, untrusted signer", "fakescope generator ab12",
                 "trainedAlgorithmicMedia", "found: fakescope:ae_swap", "method ae_swap", "Content Credentials (a signed"):
        assert text in html, text
    tampered = {"score": 0.5, "status": "insufficient", "reason": "the C2PA manifest is invalid",
                "c2pa": {"valid": False, "trusted": False, "claim_generator": "", "signer": "", "ai_generated": False,
                         "errors": ["assertion.hashedURI.mismatch: hash does not match"]},
                "watermark": {"found": False, "payload": None}}
    html = write_scan_report([_record(tampered)], tmp_path / "b.html").read_text()
    assert "INVALID" in html and "assertion.hashedURI.mismatch" in html and "not found" in html
    none = {"score": 0.5, "status": "insufficient", "c2pa": None, "watermark": {"found": False, "payload": None}}
    assert "none found" in write_scan_report([_record(none)], tmp_path / "c.html").read_text()


def test_report_shows_every_face_track_not_only_the_judged_one(tmp_path: Path) -> None:
    from fakescope.report.scan_report import write_scan_report

    rec = _record({"score": 0.5, "status": "insufficient", "c2pa": None, "watermark": {"found": False, "payload": None}})
    rec["faces"]["tracks"] = 2
    rec["selected_track"] = 7
    rec["tracks"] = [
        {"track_id": 3, "frames": 30, "verdict": "real", "fake_probability": 0.08, "frames_judged": 25,
         "not_judged": {"too_small": 5, "turned": 0}, "analyzers": {"detector": {"score": 0.1, "status": "ok"}}},
        {"track_id": 7, "frames": 28, "verdict": "fake", "fake_probability": 0.93, "frames_judged": 20,
         "not_judged": {"turned": 8}, "analyzers": {"detector": {"score": 0.91, "status": "ok"}}},
    ]
    html = write_scan_report([rec], tmp_path / "t.html").read_text()
    faces = html[html.index("<h2>Faces</h2>"):]
    assert "&gt; fake" in faces and "real" in faces  # the chosen track is marked, the other one is listed
    assert "too_small 5" in faces and "turned 8" in faces and "detector 0.91" in faces and "detector 0.10" in faces
