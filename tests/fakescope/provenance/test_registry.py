"""Provenance registry: matching copies of registered originals, and the tamper-evident chain."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.provenance.analyzer import register_videos
from fakescope.provenance.fingerprint import fingerprint_video
from fakescope.provenance.registry import find_original, list_entries, verify_registry
from tests.conftest import needs_ffmpeg

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _ffmpeg(src: Path, out: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args[:2], "-i", str(src), *args[2:], "-an", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reg") / "registry.db"
    results = register_videos([FIXTURES / "talking_head.mp4"], db, "tv original")
    assert [added for _, _, added in results] == [True]
    return db


@pytest.mark.slow
@needs_ffmpeg
def test_reencoded_resized_trimmed_copy_matches_with_the_right_offset(registry: Path, tmp_path: Path) -> None:
    copy = _ffmpeg(FIXTURES / "talking_head.mp4", tmp_path / "copy.mp4", "-ss", "1.5", "-vf", "scale=262:-2",
                   "-crf", "34")
    fp, _ = fingerprint_video(str(copy))
    m = find_original(registry, fp)
    assert m is not None and m.entry.label == "tv original"
    assert m.offset_s == pytest.approx(1.5, abs=0.25)
    assert m.background_similarity > 0.85
    assert m.changed_segments == () and m.face_similarity > 0.6


@pytest.mark.slow
@needs_ffmpeg
def test_slightly_cropped_copy_matches(registry: Path, tmp_path: Path) -> None:
    copy = _ffmpeg(FIXTURES / "talking_head.mp4", tmp_path / "crop.mp4", "-ss", "0",
                   "-vf", "crop=iw*0.96:ih*0.96:iw*0.02:ih*0.02", "-crf", "28")
    m = find_original(registry, fingerprint_video(str(copy))[0])
    assert m is not None and m.offset_s == pytest.approx(0.0, abs=0.25) and m.changed_segments == ()


def test_unrelated_clip_does_not_match(registry: Path) -> None:
    assert find_original(registry, fingerprint_video(str(FIXTURES / "unrelated_face.mp4"))[0]) is None


@pytest.mark.slow
def test_registering_twice_adds_nothing_and_the_lookup_uses_the_index(registry: Path) -> None:
    [(_, entry, added)] = register_videos([FIXTURES / "talking_head.mp4"], registry, "again")
    assert not added and entry.label == "tv original" and len(list_entries(registry)) == 1
    conn = sqlite3.connect(registry)
    conn.execute("CREATE TEMP TABLE query (chunk INTEGER, value INTEGER, sample INTEGER)")
    plan = " ".join(str(r) for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT h.seq FROM query q JOIN hash_index h ON h.chunk = q.chunk AND h.value = q.value"))
    conn.close()
    assert "hash_index_lookup" in plan  # chunk lookups through the B-tree, not a scan of every entry


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    db = tmp_path / "chain.db"
    register_videos([FIXTURES / "talking_head.mp4", FIXTURES / "unrelated_face.mp4", FIXTURES / "vfr.mp4"], db)
    assert verify_registry(db).ok
    return db


@pytest.mark.slow
def test_editing_one_byte_of_an_entry_is_detected_and_named(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(chain)
    entry_id, content = conn.execute("SELECT entry_id, content FROM entries WHERE seq = 2").fetchone()
    i = content.index('"label":"') + len('"label":"')
    conn.execute("UPDATE entries SET content = ? WHERE seq = 2", (content[:i] + "X" + content[i + 1:],))
    conn.commit()
    conn.close()
    result = verify_registry(chain)
    assert not result.ok and {p.seq for p in result.problems} == {2}
    assert main(["registry", "verify", "--registry", str(chain)]) == 2
    err = capsys.readouterr().err
    assert f"entry 2 ({entry_id})" in err and "edited" in err


@pytest.mark.slow
@pytest.mark.parametrize("tamper", ["delete_middle", "reorder", "delete_newest", "delete_all"])
def test_deleting_or_reordering_entries_is_detected(chain: Path, tamper: str) -> None:
    conn = sqlite3.connect(chain)
    if tamper == "delete_middle":
        conn.execute("DELETE FROM entries WHERE seq = 2")
    elif tamper == "reorder":
        conn.execute("UPDATE entries SET seq = -1 WHERE seq = 2")
        conn.execute("UPDATE entries SET seq = 2 WHERE seq = 3")
        conn.execute("UPDATE entries SET seq = 3 WHERE seq = -1")
    elif tamper == "delete_newest":
        conn.execute("DELETE FROM entries WHERE seq = 3")
    else:
        conn.execute("DELETE FROM entries")
        conn.execute("DELETE FROM hash_index")
    conn.commit()
    conn.close()
    assert not verify_registry(chain).ok


@pytest.mark.slow
def test_cli_add_verify_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    assert main(["registry", "add", str(FIXTURES / "talking_head.mp4"), str(bad), "--registry", str(db),
                 "--label", "newsroom archive", "--quiet"]) == 2
    out = capsys.readouterr()
    assert "registered as entry 1" in out.out
    assert re.search(r"^head: [0-9a-f]{64} \(1 entries\)$", out.out, re.MULTILINE)  # to keep outside the registry
    assert len(out.err.strip().splitlines()) == 1 and "notes.mp4" in out.err  # one line naming the bad file
    assert main(["registry", "verify", "--registry", str(db)]) == 0
    assert "intact, 1 entries" in capsys.readouterr().out
    assert main(["registry", "list", "--registry", str(db)]) == 0
    assert "newsroom archive" in capsys.readouterr().out
    assert main(["registry", "verify", "--registry", str(tmp_path / "missing.db")]) == 2


def test_a_database_that_is_not_a_registry_is_refused_and_left_alone(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "cases.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE cases (id INTEGER)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    assert main(["registry", "verify", "--registry", str(other)]) == 2
    assert main(["scan", str(FIXTURES / "unrelated_face.mp4"), "--registry", str(other), "--no-log", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("not a fakescope registry" in line and "cases.db" in line for line in err)
    assert other.read_bytes() == before  # no tables were added to somebody else's database
    text = tmp_path / "notes.db"
    text.write_text("hello")
    assert main(["registry", "verify", "--registry", str(text)]) == 2
