from pathlib import Path

import pytest

from fakescope.scan.pipeline import ScanConfig, scan_video

REQUIRED = {"file", "sha256", "verdict", "fake_probability", "video", "faces", "analyzers", "timing", "versions"}


@pytest.mark.slow
def test_scan_record_follows_design_contract(talking_head: Path) -> None:
    rec = scan_video(talking_head, ScanConfig(progress=False)).record
    assert REQUIRED <= rec.keys()
    assert rec["verdict"] in {"real", "fake", "inconclusive"}
    assert 0.0 <= rec["fake_probability"] <= 1.0
    assert rec["video"] == {"frames": 192, "fps": 30.0, "width": 436, "height": 500, "duration_s": 6.4}
    assert rec["faces"]["tracks"] == 1 and rec["faces"]["frames_with_face"] >= 190
    assert set(rec["timing"]) == {"seconds", "frames_per_second"}
    assert len(rec["sha256"]) == 64
    for ev in rec["analyzers"].values():
        assert ev["status"] in {"ok", "insufficient"} and 0.0 <= ev["score"] <= 1.0


@pytest.mark.slow
def test_rescan_gives_same_numbers(talking_head: Path) -> None:
    a = scan_video(talking_head, ScanConfig(progress=False)).record
    b = scan_video(talking_head, ScanConfig(progress=False)).record
    assert a["fake_probability"] == b["fake_probability"]
    assert a["analyzers"] == b["analyzers"]
