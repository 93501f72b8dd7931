"""Reliability: an anchored registry head catches truncation with a rewritten head record and a replaced database.

The attack: whoever can write the registry file deletes the newest entry (say, the original that
exposes a fake) and rewrites the head record so that the chain is consistent again. The chain
alone cannot see that; the head printed by `registry add` / `registry verify`, kept elsewhere and
passed back as `--expect-head`, can.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.provenance.registry import GENESIS, verify_registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HEAD = re.compile(r"^head: ([0-9a-f]{64}) \((\d+) entries\)$", re.MULTILINE)


def _head(out: str) -> tuple[str, int]:
    found = HEAD.findall(out)
    assert len(found) == 1, out
    return found[0][0], int(found[0][1])


def _add(db: Path, *clips: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    assert main(["registry", "add", *(str(FIXTURES / c) for c in clips), "--registry", str(db), "--quiet"]) == 0
    return _head(capsys.readouterr().out)


def _truncate_like_an_attacker(db: Path) -> None:
    """Delete the newest entry and its index rows, then make the head record agree with what is left."""
    conn = sqlite3.connect(db)
    (newest,) = conn.execute("SELECT MAX(seq) FROM entries").fetchone()
    conn.execute("DELETE FROM entries WHERE seq = ?", (newest,))
    conn.execute("DELETE FROM hash_index WHERE seq = ?", (newest,))
    row = conn.execute("SELECT entry_sha256 FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head'", (row[0] if row else GENESIS,))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'count'", (str(newest - 1),))
    conn.commit()
    conn.close()


@pytest.fixture
def two_clips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    db = tmp_path / "registry.db"
    first, n1 = _add(db, "rotated.mp4", capsys=capsys)
    head, n2 = _add(db, "generator_clip.mp4", capsys=capsys)
    assert (n1, n2) == (1, 2) and first != head
    return db, head


def test_add_and_verify_print_the_same_head(two_clips: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    db, head = two_clips
    assert main(["registry", "verify", "--registry", str(db)]) == 0
    out = capsys.readouterr().out
    assert _head(out) == (head, 2) and "intact, 2 entries" in out and "--expect-head" in out
    # the happy path: the recorded head (in any case, with stray blanks from a copy-paste) passes
    assert main(["registry", "verify", "--registry", str(db), "--expect-head", f" {head.upper()}\n"]) == 0
    out = capsys.readouterr().out
    assert "intact, 2 entries, head matches --expect-head" in out and _head(out) == (head, 2)


def test_truncation_with_rewritten_head_passes_alone_and_fails_with_the_anchor(
        two_clips: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    db, head = two_clips
    _truncate_like_an_attacker(db)

    # the finding: from the database alone the shortened chain is a valid chain
    assert verify_registry(db).ok
    assert main(["registry", "verify", "--registry", str(db)]) == 0
    assert _head(capsys.readouterr().out)[1] == 1

    # with the head kept elsewhere the truncation is caught: exit 2 (as for any broken chain), one line
    result = verify_registry(db, head)
    assert not result.ok and result.chain_ok and result.head_problem is not None
    assert main(["registry", "verify", "--registry", str(db), "--expect-head", head]) == 2
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fakescope: error: {db}: head mismatch:")
    assert f"head is {result.head} (1 entries), expected {head}" in err[0]
    assert "not in this chain" in err[0]
    assert _head(cap.out) == (result.head, 1)  # what it found, on stdout too


def test_a_wholly_replaced_database_fails_with_the_anchor(two_clips: tuple[Path, str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    db, head = two_clips
    other = tmp_path / "other.db"
    _add(other, "unrelated_face.mp4", "rotated.mp4", capsys=capsys)
    shutil.copyfile(other, db)  # a consistent registry with other entries, in place of the real one
    assert main(["registry", "verify", "--registry", str(db)]) == 0
    capsys.readouterr()
    assert main(["registry", "verify", "--registry", str(db), "--expect-head", head]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "head mismatch" in err[0] and head in err[0] and "not in this chain" in err[0]


def test_entries_added_after_the_anchor_are_named_as_such(two_clips: tuple[Path, str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    db, head = two_clips
    newer, n = _add(db, "unrelated_face.mp4", capsys=capsys)
    assert n == 3
    assert main(["registry", "verify", "--registry", str(db), "--expect-head", head]) == 2
    err = capsys.readouterr().err
    assert "expected head is that of entry 2, so 1 entry was added after it" in err and newer in err
    assert main(["registry", "verify", "--registry", str(db), "--expect-head", newer]) == 0


def test_an_edit_with_the_chain_recomputed_is_caught_only_by_the_anchor(
        two_clips: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    """Editing entry 1 and re-deriving every hash after it gives a valid chain with another head."""
    import json

    from fakescope.core.hashing import sha256_bytes
    from fakescope.provenance.registry import canonical_json

    db, head = two_clips
    conn = sqlite3.connect(db)
    prev = GENESIS
    for seq, content in conn.execute("SELECT seq, content FROM entries ORDER BY seq").fetchall():
        d = json.loads(content)
        if seq == 1:
            d["label"] = "forged label"
        content = canonical_json(d)
        c_sha = sha256_bytes(content.encode())
        prev_link, prev = prev, sha256_bytes((prev + c_sha).encode())
        conn.execute("UPDATE entries SET content = ?, content_sha256 = ?, entry_id = ?, prev_sha256 = ?, "
                     "entry_sha256 = ? WHERE seq = ?", (content, c_sha, c_sha[:12], prev_link, prev, seq))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head'", (prev,))
    conn.commit()
    conn.close()
    assert verify_registry(db).ok
    assert not verify_registry(db, head).ok
    assert main(["registry", "verify", "--registry", str(db), "--expect-head", head]) == 2
    capsys.readouterr()


def test_a_bad_expected_head_is_a_usage_error_before_the_registry_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "verify", "--registry", str(tmp_path / "missing.db"), "--expect-head", "abc123"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--expect-head" in err[0] and "64 hex digits" in err[0] and "abc123" in err[0]


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "evil\nname.mp4"
    shutil.copyfile(FIXTURES / "rotated.mp4", clip)
    bad = tmp_path / "bad\rname.mp4"
    bad.write_text("not a video")
    db = tmp_path / "reg\n.db"
    assert main(["registry", "add", str(clip), str(bad), "--registry", str(db), "--quiet"]) == 2
    cap = capsys.readouterr()
    out = cap.out.strip().splitlines()
    assert len(out) == 2 and "evil\\nname.mp4: registered as entry 1" in out[0] and "reg\\n.db" in out[0]
    assert HEAD.match(out[1])
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and "bad\\rname.mp4" in err[0]
    assert main(["registry", "list", "--registry", str(db)]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert len(listed) == 1 and "evil\\nname" in listed[0] and "(evil\\nname.mp4)" in listed[0]
    assert main(["registry", "verify", "--registry", str(db)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    # errors raised to `fakescope` itself (here: not a registry) are one line too
    notreg = tmp_path / "not\na registry.db"
    notreg.write_text("hello")
    assert main(["registry", "verify", "--registry", str(notreg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not\\na registry.db" in err[0]
