"""Reliability of `fakescope audit`'s output: why a metric is missing, and videos listed twice.

Fast: tiny synthetic videos and a stub scorer (no detector, no scan), no figures.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from fakescope.audit.items import AuditRowError, load_items
from fakescope.audit.run import ItemScore, audit
from fakescope.core.errors import one_line


def _video(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
    assert writer.isOpened()
    for f in range(3):
        frame = np.full((32, 32, 3), (shade * 13 + f * 40) % 256, np.uint8)
        frame[shade % 32, :, 2] = 255
        writer.write(frame)
    writer.release()
    return path


def _csv(path: Path, rows: list[tuple[str, str]], method: str = "") -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "method"])
        for p, label in rows:
            w.writerow([p, label, method if label == "fake" else ""])
    return path


def _stub(path: Path) -> ItemScore:
    return ItemScore(0.2 + (sum(path.name.encode()) % 7) / 10)


def _run(tmp_path: Path, labels: Path):
    res = audit([labels], {"stub": _stub}, tmp_path / "out", n_boot=20, progress=False, plots=False)
    return json.loads(res.metrics_path.read_text()), res.report_path.read_text()


def test_only_fake_videos_say_why_auc_is_undefined(tmp_path: Path) -> None:
    for k in range(3):
        _video(tmp_path / f"f{k}.mp4", k)
    metrics, html = _run(tmp_path, _csv(tmp_path / "l.csv", [(f"f{k}.mp4", "fake") for k in range(3)], "ae_swap"))
    video = metrics["scorers"]["stub"]["video"]
    assert video["auc"] is None and video["ci"]["auc"] is None
    assert video["undefined_reason"] == "undefined: only fake videos in this group"
    assert metrics["scorers"]["stub"]["per_method"]["ae_swap"]["undefined_reason"] == video["undefined_reason"]
    assert "undefined_reason" in metrics["definitions"]
    assert "undefined: only fake videos in this group" in html
    assert "only fake videos were audited" in html


def test_both_classes_have_no_undefined_reason(tmp_path: Path) -> None:
    _video(tmp_path / "r.mp4", 1)
    _video(tmp_path / "f.mp4", 2)
    metrics, _ = _run(tmp_path, _csv(tmp_path / "l.csv", [("r.mp4", "real"), ("f.mp4", "fake")]))
    video = metrics["scorers"]["stub"]["video"]
    assert video["auc"] is not None and video["undefined_reason"] is None


def test_conflicting_labels_are_errors_naming_both_lines_and_the_video_is_left_out(tmp_path: Path) -> None:
    for name, shade in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        _video(tmp_path / f"{name}.mp4", shade)
    shutil.copyfile(tmp_path / "b.mp4", tmp_path / "b_copy.mp4")  # same bytes under another name
    labels = _csv(tmp_path / "l.csv", [
        ("a.mp4", "real"),        # line 2
        ("b.mp4", "fake"),        # line 3
        ("./a.mp4", "fake"),      # line 4: same file as line 2, other label
        ("c.mp4", "real"),        # line 5
        ("d.mp4", "fake"),        # line 6
        ("b_copy.mp4", "real"),   # line 7: same sha256 as line 3, other label
    ])
    items, errors = load_items([labels])
    assert sorted(i.path.name for i in items) == ["c.mp4", "d.mp4"]  # neither label is picked for a or b
    by_line = {e.row_number: e for e in errors}
    assert sorted(by_line) == [2, 3, 4, 7]
    for line, other in ((2, 4), (4, 2), (3, 7), (7, 3)):
        e = by_line[line]
        assert e.severity == "error" and "conflicting labels" in e.reason and "left out" in e.reason
        assert f"line {line}" in e.reason and f"line {other}" in e.reason
    assert "says real" in by_line[2].reason and "says fake" in by_line[2].reason
    assert "sha256" in by_line[3].reason and "b_copy.mp4" in by_line[3].reason

    metrics, html = _run(tmp_path, labels)
    assert metrics["n_items"] == 2 and metrics["n_row_errors"] == 4 and metrics["n_row_notes"] == 0
    assert [e["row_number"] for e in metrics["row_errors"]] == [2, 3, 4, 7]
    for e in metrics["row_errors"]:
        assert e["reason"].replace("'", "&#x27;") in html


def test_an_exact_duplicate_is_counted_once_with_a_note(tmp_path: Path) -> None:
    _video(tmp_path / "a.mp4", 1)
    _video(tmp_path / "b.mp4", 2)
    shutil.copyfile(tmp_path / "b.mp4", tmp_path / "b_copy.mp4")
    labels = _csv(tmp_path / "l.csv", [("a.mp4", "real"), ("b.mp4", "fake"), ("a.mp4", "0"), ("b_copy.mp4", "1")])
    items, errors = load_items([labels])
    assert [i.path.name for i in items] == ["a.mp4", "b.mp4"] and [i.row_number for i in items] == [2, 3]
    assert [(e.row_number, e.severity) for e in errors] == [(4, "note"), (5, "note")]
    assert "already listed at line 2" in errors[0].reason and "counted once" in errors[0].reason
    assert "identical to line 3 (b.mp4)" in errors[1].reason

    metrics, html = _run(tmp_path, labels)
    assert metrics["n_items"] == 2 and metrics["n_real"] == 1 and metrics["n_fake"] == 1
    assert metrics["n_row_errors"] == 0 and metrics["row_errors"] == []
    assert metrics["n_row_notes"] == 2 and [n["row_number"] for n in metrics["row_notes"]] == [4, 5]
    assert all(n["severity"] == "note" for n in metrics["row_notes"])
    assert "2 repeated row(s) counted once" in html and "note: counted once" in html
    assert errors[0].reason in html


def test_repeats_across_two_csvs_name_the_other_file(tmp_path: Path) -> None:
    _video(tmp_path / "a.mp4", 1)
    first = _csv(tmp_path / "one.csv", [("a.mp4", "real")])
    second = _csv(tmp_path / "two.csv", [("a.mp4", "fake")])
    items, errors = load_items([first, second])
    assert items == [] and [(e.source, e.row_number) for e in errors] == [(str(first), 2), (str(second), 2)]
    assert f"{second} line 2 says fake" in errors[0].reason and f"{first} line 2 says real" in errors[1].reason


def test_row_error_lines_stay_on_one_line(tmp_path: Path) -> None:
    labels = _csv(tmp_path / "l.csv", [("missing\nfile.mp4", "real"), ("x\x1b[31m.mp4", "fake")])
    items, errors = load_items([labels])
    assert items == [] and len(errors) == 2
    for e in errors:
        assert len(str(e).splitlines()) == 1 and "\x1b" not in str(e)
    assert "missing\\nfile.mp4" in str(errors[0]) and "x\\x1b[31m.mp4" in str(errors[1])
    assert errors[0].path == "missing\nfile.mp4"  # metrics.json keeps the real name (JSON escapes it)
    assert str(AuditRowError("s.csv", 3, "a\u2028b", "r")) == "s.csv line 3: a\\u2028b: r"


def test_one_line() -> None:
    assert one_line("plain/path with spaces/é.mp4") == "plain/path with spaces/é.mp4"
    assert one_line("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert one_line("a\\nb") == "a\\\\nb"  # a literal backslash-n is not confused with a newline
    assert one_line("e\x1b[2Jf\x7f\x85") == "e\\x1b[2Jf\\x7f\\x85"
    assert one_line("x\u2028y\u2029z\u202egnp.exe") == "x\\u2028y\\u2029z\\u202egnp.exe"
    assert one_line("bad\udcffbyte") == "bad\\udcffbyte"
    assert one_line(Path("/tmp/a\nb")) == "/tmp/a\\nb"
    for s in ("a\nb", "\u0085", "x\u2028y", "\x1c\x1d\x1e", "\v\f"):
        assert len(one_line(s).splitlines()) == 1
