from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.faces import FacePipeline
from fakescope.core.video import probe
from generator.faceset import FaceSet
from generator.models import Preset
from generator.render import RenderOptions, SwapEngine, render_swap
from generator.train import train_facesets

CLIP = Path(__file__).resolve().parents[1] / "fixtures" / "generator_clip.mp4"


@pytest.fixture
def tiny_run(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> Path:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=2, progress=False)
    return run


def _count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.mark.slow
def test_render_writes_a_playable_video_with_the_inputs_frames_and_fps(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "swapped.mp4"
    res = render_swap(tiny_run, CLIP, "bob", out, progress=False)
    src = probe(CLIP)
    assert out.exists() and res.output == out
    assert _count_frames(out) == _count_frames(CLIP) == res.frames
    got = probe(out)
    assert got.fps == pytest.approx(src.fps, abs=0.01)
    assert (got.width, got.height) == (src.width, src.height)
    assert res.frames_swapped == res.frames  # every fixture frame has a face
    assert not list(tmp_path.glob(".swapped*"))  # temporary files cleaned up
    if shutil.which("ffprobe"):
        streams = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0", str(out)],
                                 capture_output=True, text=True).stdout
        assert "audio" in streams and res.audio  # the fixture's soundtrack is kept
        assert res.codec in ("h264", "mpeg4") and res.codec in streams


def test_swap_frame_changes_only_the_face(tiny_run: Path) -> None:
    engine = SwapEngine(tiny_run)
    assert engine.identities == ["alice", "bob"]
    _, _, frame, faces = next(iter(FacePipeline().run(CLIP)))
    out, mask = engine.swap_frame(frame, faces[0].landmarks, "bob", RenderOptions())
    assert out.shape == frame.shape and mask.shape == frame.shape[:2]
    changed = np.abs(out.astype(int) - frame.astype(int)).max(2) > 0
    assert changed.any()
    assert not changed[mask == 0].any()  # nothing outside the blend mask moved
    x0, y0, x1, y1 = faces[0].box
    inside = mask[y0:y1, x0:x1].sum()
    assert inside > 0.9 * mask.sum()  # the mask sits on the detected face


def test_detail_matching_sharpens_the_swap_and_keeps_it_inside_the_mask(tiny_run: Path) -> None:
    from generator.blend import laplacian_variance

    engine = SwapEngine(tiny_run)
    _, _, frame, faces = next(iter(FacePipeline().run(CLIP)))
    soft, mask = engine.swap_frame(frame, faces[0].landmarks, "bob", RenderOptions())
    sharp, mask_d = engine.swap_frame(frame, faces[0].landmarks, "bob", RenderOptions(detail=0.8))
    changed = np.abs(sharp.astype(int) - frame.astype(int)).max(2) > 0
    assert not changed[mask_d == 0].any()
    assert np.abs(mask - mask_d).mean() < 0.01  # the same place in the frame
    inside = (mask > 0.9) & (mask_d > 0.9)
    assert laplacian_variance(sharp, inside) > 1.2 * laplacian_variance(soft, inside)


def test_render_rejects_unknown_identity_and_bad_output(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="knows: alice, bob"):
        render_swap(tiny_run, CLIP, "carol", tmp_path / "x.mp4", progress=False)
    with pytest.raises(ValueError, match=r"\.mp4"):
        render_swap(tiny_run, CLIP, "bob", tmp_path / "x.avi", progress=False)
    with pytest.raises(ValueError, match="no checkpoint"):
        SwapEngine(tmp_path)


@pytest.mark.slow
def test_a_rendered_swap_is_labelled_and_a_scan_calls_it_fake(tiny_run: Path, tmp_path: Path) -> None:
    """DESIGN "Labelled output": the manifest is valid and declares AI generation, the watermark reads back,
    and the full default scan calls the render fake whatever the (untrained) swap looks like."""
    from fakescope.provenance.credentials import read_content_credentials
    from fakescope.scan.pipeline import ScanConfig, scan_video

    out = tmp_path / "swapped.mp4"
    res = render_swap(tiny_run, CLIP, "bob", out, progress=False)
    assert res.label["method"] in ("ae_swap", "ae_gan_swap")
    assert res.label["watermark"]["found"] and res.label["watermark"]["payload"] == f"fakescope:{res.label['method']}"
    info, _ = read_content_credentials(out)
    assert info is not None and info["valid"] and info["ai_generated"]
    assert info["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert info["fakescope"]["method"] == res.label["method"] and info["fakescope"]["params"]["to"] == "bob"
    rec = scan_video(out, ScanConfig(progress=False)).record
    cred = rec["analyzers"]["credentials"]
    assert cred["status"] == "ok" and cred["c2pa"]["valid"] and cred["c2pa"]["ai_generated"]
    assert cred["watermark"]["found"] and cred["watermark"]["payload"] == res.label["watermark"]["payload"]
    assert rec["verdict"] == "fake"


@pytest.mark.parametrize("detail", [0.0, -0.5, 3.0])
def test_a_detail_share_outside_its_range_is_refused_with_what_to_do(detail: float) -> None:
    with pytest.raises(ValueError, match=r"\(0, 2\]"):
        RenderOptions(detail=detail)
