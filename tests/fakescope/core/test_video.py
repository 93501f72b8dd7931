from pathlib import Path

import pytest

from fakescope.core.errors import UnusableInputError
from fakescope.core.video import FrameStats, iter_frames, probe
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
    # The clip is stored 218x250 (w x h) with a 90 degree display rotation.
    assert frame.shape[:2] == (218, 250)
    assert info.rotation in (90, 270)


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
