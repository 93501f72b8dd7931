import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fakescope.core.errors import UnusableInputError
from fakescope.core.video import FrameStats, ffprobe_rotation, iter_frames, probe
from tests.conftest import FIXTURES


def test_probe_reports_header(talking_head: Path) -> None:
    info = probe(talking_head)
    assert (info.width, info.height, info.fps) == (436, 500, 30.0)
    assert info.frames == 192


def test_iter_frames_streams_every_frame_with_increasing_timestamps(talking_head: Path) -> None:
    stamps = [ts for _, ts, _ in iter_frames(talking_head)]
    assert len(stamps) == 192
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert stamps[30] == pytest.approx(1.0, abs=1e-3)


def test_rotation_metadata_is_honoured() -> None:
    info = probe(FIXTURES / "rotated.mp4")
    _, _, frame = next(iter(iter_frames(FIXTURES / "rotated.mp4")))
    # The clip is stored 218x250 (w x h) with a display matrix that turns it by 90 degrees:
    # frames come out as players show them.
    assert frame.shape[:2] == (218, 250)
    assert (info.width, info.height) == (250, 218)
    # `ffprobe -show_streams` (FFmpeg 5.1) prints this clip's display-matrix side data as rotation=90
    assert info.rotation == 90
    assert info.as_json()["rotation"] == 90


def test_a_portrait_phone_clip_stored_landscape_comes_out_upright() -> None:
    """portrait_small_face_rot90.mp4 is stored 960x540 with rotate=90 (ffprobe: rotation=90), as phones
    write portrait video; decoded, it is the same 540x960 portrait as portrait_small_face.mp4."""
    rotated, plain = FIXTURES / "portrait_small_face_rot90.mp4", FIXTURES / "portrait_small_face.mp4"
    info = probe(rotated)
    assert (info.width, info.height, info.rotation) == (540, 960, 90)
    assert probe(plain).rotation == 0
    a = next(iter(iter_frames(rotated)))[2].astype(float)
    b = next(iter(iter_frames(plain)))[2].astype(float)
    assert a.shape == b.shape == (960, 540, 3)
    assert np.abs(a - b).mean() < 4  # the same picture (up to compression), not a turned one


@pytest.mark.parametrize(("opencv", "ffprobe"), [(0, 0), (270, 90), (90, -90), (180, -180), (360, 0)])
def test_rotation_follows_ffprobes_convention(opencv: float, ffprobe: int) -> None:
    assert ffprobe_rotation(opencv) == ffprobe


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
@pytest.mark.parametrize("name", ["rotated.mp4", "portrait_small_face_rot90.mp4", "talking_head.mp4"])
def test_rotation_matches_ffprobe(name: str) -> None:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", str(FIXTURES / name)],
                         capture_output=True, text=True, check=True).stdout
    found = re.findall(r"^rotation=(-?\d+)", out, flags=re.M)  # the display matrix side data
    assert probe(FIXTURES / name).rotation == (int(found[0]) if found else 0)


def test_variable_frame_rate_uses_container_timestamps() -> None:
    path = FIXTURES / "vfr.mp4"
    info = probe(path)
    stats = FrameStats()
    stamps = []
    for _, ts, _ in iter_frames(path, info):
        stats.add(ts)
        stamps.append(ts)
    # Frames 20-49 were dropped from a 30 fps clip: a 1 s gap, kept in the timestamps.
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps) == pytest.approx(31 / 30, abs=0.01)
    final = stats.finalize(info)
    assert final.variable_frame_rate
    assert final.duration_s == pytest.approx(4.0, abs=0.05)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"just some text\n", "text file"), (b"\xff\xd8\xff\xe0" + b"\0" * 100, "JPEG")],
)
def test_unusable_inputs_raise_clear_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(UnusableInputError, match=reason):
        probe(p)


def test_truncated_and_missing_files(tmp_path: Path, talking_head: Path) -> None:
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(talking_head.read_bytes()[:40_000])
    with pytest.raises(UnusableInputError, match="corrupt|truncated"):
        probe(truncated)
    with pytest.raises(UnusableInputError, match="no such file"):
        probe(tmp_path / "missing.mp4")


def test_size_limit(talking_head: Path) -> None:
    with pytest.raises(UnusableInputError, match="limit"):
        probe(talking_head, max_bytes=1000)
