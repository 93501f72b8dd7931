"""Case log: every scan appended to a SQLite database so an analyst can find past verdicts.

SQLite in WAL mode with one transaction per scan means a crash mid-scan (or mid-write) leaves
the database as it was before that scan: no half-written case, no corruption.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fakescope.core.paths import user_data_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scanned_at TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    verdict TEXT NOT NULL,
    fake_probability REAL NOT NULL,
    versions TEXT NOT NULL,
    report_path TEXT
);
CREATE INDEX IF NOT EXISTS cases_sha256 ON cases(sha256);
"""


LOCK_TIMEOUT_S = 5.0  # a case log held by another writer this long is reported, not waited on


class CaseLogError(ValueError):
    """The case log cannot be used (not a case log, locked, unwritable); the message names it."""


def default_db_path() -> Path:
    """Per-user location: $FAKESCOPE_CASES_DB, else $XDG_DATA_HOME/fakescope/cases.db."""
    return user_data_file("FAKESCOPE_CASES_DB", "cases.db")


@dataclass(frozen=True)
class Case:
    id: int
    scanned_at: str
    file: str
    sha256: str
    verdict: str
    fake_probability: float
    versions: dict[str, Any]
    report_path: str | None


@contextmanager
def _connect(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection with the schema in place; any SQLite or OS failure becomes a CaseLogError."""
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(db), timeout=LOCK_TIMEOUT_S)
    except (OSError, sqlite3.Error) as exc:
        raise CaseLogError(f"{db}: case log cannot be opened ({_why(exc)})") from exc
    try:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise CaseLogError(f"{db}: case log unusable ({_why(exc)})") from exc
        try:
            yield conn
        except (OSError, sqlite3.Error) as exc:
            raise CaseLogError(f"{db}: case log unusable ({_why(exc)})") from exc
    finally:
        conn.close()


def _why(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if "file is not a database" in text:
        return "not an SQLite database"
    if "locked" in text:
        return f"locked by another process for over {LOCK_TIMEOUT_S:g} s"
    return text


def append_case(record: dict[str, Any], db: Path | None = None, report_path: Path | None = None) -> int:
    db = db or default_db_path()
    with _connect(db) as conn, conn:
        cur = conn.execute(
            "INSERT INTO cases (scanned_at, file, sha256, verdict, fake_probability, versions, report_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (datetime.now(UTC).isoformat(timespec="seconds"), record["file"], record["sha256"], record["verdict"],
             float(record["fake_probability"]), json.dumps(record.get("versions", {}), sort_keys=True),
             str(report_path) if report_path else None),
        )
        return int(cur.lastrowid or 0)


def list_cases(db: Path | None = None, limit: int | None = None) -> list[Case]:
    db = db or default_db_path()
    if not db.exists():
        return []
    with _connect(db) as conn:
        sql = "SELECT id, scanned_at, file, sha256, verdict, fake_probability, versions, report_path FROM cases ORDER BY id DESC"
        rows = conn.execute(sql + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
    return [Case(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7]) for r in rows]


def find_case(sha256: str, versions: dict[str, Any], db: Path | None = None) -> Case | None:
    """The newest case of this exact file content scanned with exactly these versions, if any.

    A resumed scan uses it to skip videos it already judged: the content hash (not the file name,
    which may change or be reused) and the code and model versions must all match, so a new
    fakescope release or retrained model re-scans everything.
    """
    db = db or default_db_path()
    if not db.exists():
        return None
    with _connect(db) as conn:
        rows = conn.execute(
            "SELECT id, scanned_at, file, sha256, verdict, fake_probability, versions, report_path FROM cases"
            " WHERE sha256 = ? ORDER BY id DESC", (sha256,)).fetchall()
    for r in rows:
        if json.loads(r[6]) == versions:
            return Case(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7])
    return None


def integrity_ok(db: Path) -> bool:
    with _connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
