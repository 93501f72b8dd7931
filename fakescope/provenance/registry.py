"""Provenance registry: fingerprints of authentic videos in a tamper-evident SQLite log.

Why a hash chain: a registry is only worth something if nobody can quietly edit, delete or
reorder what was registered. Every entry stores the SHA-256 of its canonical JSON content and
the chain hash of the entry before it; its own chain hash is SHA-256(previous chain hash + content
hash). The newest chain hash is the registry's *head*: it commits to every entry before it.
The hashes are unkeyed, so the database alone cannot prove anything against someone who can
write to it and recompute hashes; the head recorded somewhere else can.

What ``verify_registry`` (``fakescope registry verify``) detects, from the database alone:

- an entry whose content, content hash, id or chain hash was edited without recomputing the chain;
- an entry deleted from the middle (sequence gap, broken link of the next entry);
- entries reordered (broken links);
- the newest entries deleted while the head record (``meta`` head/count) was left alone;
- a lookup index that disagrees with the entries' fingerprints.

What it does NOT detect from the database alone: anyone who writes the file and recomputes the
hashes. Deleting the newest entries and rewriting the head record, editing an entry and
re-chaining everything after it, or replacing the whole database with another consistent
registry all pass, because the result is a valid chain.

With ``expected_head`` (``registry verify --expect-head HASH``, the head that ``registry add``
and ``registry verify`` print, kept outside the database, e.g. in a newsroom's log) it also
detects, assuming SHA-256 is collision resistant:

- the newest entries removed and the head record rewritten (the chain ends before the expected head);
- any edit of an entry up to the expected head, even with the chain recomputed after it;
- a wholly replaced or rebuilt database (the expected head is not in it);
- entries added after the expected head was recorded (reported as such: record the new head if
  you added them; the anchor vouches only for entries up to it).

What no check here can detect: an attacker who also controls where the expected head is kept
(or how it reaches the person verifying) and rewrites it together with the database; and a
head recorded from a database that was already tampered with. Run ``registry verify
--expect-head OLD`` before ``registry add`` so the new head you record extends a checked chain.

Why multi-index hashing: a lookup must not read every entry. Each 64-bit background hash is
split into four 16-bit chunks, indexed as (chunk position, value). Two hashes within Hamming
distance 3 always share a chunk, and a re-encoded copy has dozens of samples, so candidates are
found by exact chunk matches through a B-tree index; each candidate also votes for the time
shift at which it matched (a Hough vote), which aligns trimmed copies before any comparison.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.hashing import sha256_bytes
from fakescope.core.paths import user_data_file
from fakescope.provenance.fingerprint import Fingerprint, hamming

GENESIS = "0" * 64
CHUNKS = 4
CHUNK_BITS = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    file_sha256 TEXT NOT NULL,
    content TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL,
    entry_sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_file ON entries(file_sha256);
CREATE TABLE IF NOT EXISTS hash_index (
    chunk INTEGER NOT NULL,
    value INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    sample INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS hash_index_lookup ON hash_index(chunk, value);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Matching thresholds, measured on re-encoded / resized / cropped / trimmed copies of the bundled
# talking head (background distance <= 8 of 64 bits) against unrelated footage (>= 20).
BG_MATCH_SIMILARITY = 0.70  # 1 - mean background distance / 32: unrelated video is ~0
MIN_OVERLAP_SAMPLES = 4  # one second at 4 Hz
MIN_VOTES = 3
EMBEDDING_CHANGED = 0.60  # dlib's own same-person threshold; a small CRF 34 copy of the same face reaches ~0.46
EMBEDDING_DOUBT = 0.45  # above this, a face hash that also moved counts as a change
FACE_HASH_CHANGED = 14  # aligned inner-face hash bits; a re-encode flips <= 6 at the right alignment
FACE_HASH_CHANGED_SAME_PERSON = 26  # with the identity unchanged, only a grossly different face counts
MIN_SEGMENT_SAMPLES = 6  # 1.5 s: a grimace in a degraded copy can fool both face signals for a second


def default_registry_path() -> Path:
    """$FAKESCOPE_REGISTRY, else $XDG_DATA_HOME/fakescope/registry.db."""
    return user_data_file("FAKESCOPE_REGISTRY", "registry.db")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _chunks(h: int) -> list[tuple[int, int]]:
    return [(c, (h >> (CHUNK_BITS * c)) & ((1 << CHUNK_BITS) - 1)) for c in range(CHUNKS)]


@contextmanager
def _connect(db: Path, create: bool = False) -> Iterator[sqlite3.Connection]:
    """Writers (``create``) open read-write and create the schema; readers open read-only, so a
    published registry on a read-only mount works and a wrong database is refused, not altered."""
    if not create and not db.is_file():
        raise FileNotFoundError(f"{db}: no provenance registry here (create one with `fakescope registry add`)")
    if create:
        db.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(db), timeout=30.0)
    else:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    try:
        try:
            if create:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(_SCHEMA)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{db}: not a fakescope registry ({exc})") from exc
        if not {"entries", "hash_index", "meta"} <= tables:
            raise ValueError(f"{db}: not a fakescope registry (an SQLite database without the registry's tables)")
        yield conn
    finally:
        conn.close()


def create_registry(db: Path) -> Path:
    """An empty registry at ``db`` (or the existing one, untouched); `registry add` also creates on first use."""
    with _connect(db, create=True):
        pass
    return db


def registry_head(db: Path) -> str:
    """The newest chain hash (what a scan records as the registry's version); raises ValueError if not a registry."""
    with _connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
    return row[0] if row else GENESIS


def registry_state(db: Path) -> tuple[str, int]:
    """(head hash from the head record, number of entries), without re-deriving the chain.

    What ``registry add`` prints so the head can be kept elsewhere; ``verify_registry`` re-derives it.
    """
    with _connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        (n,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
    return (row[0] if row else GENESIS), int(n)


def parse_head(text: str) -> str:
    """A head hash as a user typed it (64 hex digits, any case, surrounding blanks ignored); ValueError otherwise."""
    h = text.strip().lower()
    if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ValueError(f"--expect-head: expected the 64 hex digits of a registry head hash (as printed by "
                         f"`fakescope registry add` or `registry verify`), got {shown!r}")
    return h


@dataclass(frozen=True)
class RegistryEntry:
    seq: int
    entry_id: str
    label: str
    file_name: str
    file_sha256: str
    added_at: str
    video: dict[str, Any]
    fingerprint: Fingerprint


def _entry(seq: int, entry_id: str, content: str) -> RegistryEntry:
    d = json.loads(content)
    return RegistryEntry(seq, entry_id, d["label"], d["file_name"], d["file_sha256"], d["added_at"], d["video"],
                         Fingerprint.from_json(d["fingerprint"]))


def add_entry(db: Path, fingerprint: Fingerprint, *, label: str, file_name: str, file_sha256: str,
              video: dict[str, Any]) -> tuple[RegistryEntry, bool]:
    """Append one authentic video. Returns (entry, added); a file already registered is not added twice."""
    with _connect(db, create=True) as conn:
        conn.execute("BEGIN IMMEDIATE")  # one writer at a time: the chain's order is the commit order
        try:
            row = conn.execute("SELECT seq, entry_id, content FROM entries WHERE file_sha256 = ?",
                               (file_sha256,)).fetchone()
            if row is not None:
                conn.execute("ROLLBACK")
                return _entry(*row), False
            last = conn.execute("SELECT seq, entry_sha256 FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            body = {"label": label, "file_name": Path(file_name).name, "file_sha256": file_sha256,
                    "added_at": datetime.now(UTC).isoformat(timespec="seconds"), "video": video,
                    "fingerprint": fingerprint.as_json()}
            content = canonical_json(body)
            content_sha = sha256_bytes(content.encode())
            entry_sha = sha256_bytes((prev + content_sha).encode())
            entry_id = content_sha[:12]
            conn.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (seq, entry_id, file_sha256, content, content_sha, prev, entry_sha))
            conn.executemany("INSERT INTO hash_index VALUES (?, ?, ?, ?)", _index_rows(seq, fingerprint))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (entry_sha,))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('count', ?)", (str(seq),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return _entry(seq, entry_id, content), True


def _index_rows(seq: int, fp: Fingerprint) -> list[tuple[int, int, int, int]]:
    return [(c, v, seq, i) for i, h in enumerate(fp.background) for c, v in _chunks(h)]


def list_entries(db: Path) -> list[RegistryEntry]:
    with _connect(db) as conn:
        return [_entry(*r) for r in conn.execute("SELECT seq, entry_id, content FROM entries ORDER BY seq")]


@dataclass(frozen=True)
class Problem:
    seq: int | None
    entry_id: str | None
    reason: str

    def __str__(self) -> str:
        where = f"entry {self.seq} ({self.entry_id})" if self.seq is not None else "registry"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    """``head`` is the chain's own head (re-derived), ``expected_head`` what the caller expected, if anything.

    ``problems`` holds every finding; ``head_problem`` the one about the expected head (also in
    ``problems``), so a caller can tell "the chain itself is broken" from "the chain is intact but
    it is not the one you recorded".
    """

    entries: int
    head: str
    problems: tuple[Problem, ...]
    expected_head: str | None = None
    head_problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def chain_ok(self) -> bool:
        """The chain is internally consistent (it may still differ from the expected head)."""
        return all(p is self.head_problem for p in self.problems)


def _head_problem(expected: str, head: str, n: int, positions: dict[str, int]) -> Problem | None:
    if expected == head:
        return None
    found = f"the chain's head is {head} ({n} entries), expected {expected}"
    k = positions.get(expected)
    if k is not None and k < n:
        return Problem(None, None, f"{found}: the expected head is that of entry {k}, so {n - k} "
                                   f"entr{'y was' if n - k == 1 else 'ies were'} added after it was recorded "
                                   "(if you added them, record the new head)")
    return Problem(None, None, f"{found}, which is not in this chain (newest entries removed and the head "
                               "record rewritten, entries rewritten, or the database replaced)")


def verify_registry(db: Path, expected_head: str | None = None) -> VerifyResult:
    """Re-derive every hash and link of the chain, and the lookup index, from the stored content.

    ``expected_head`` (a head recorded outside the database) is compared with the re-derived
    head: see the module docstring for what this adds. Raises ValueError if it is not a hash.
    """
    expected = parse_head(expected_head) if expected_head is not None else None
    problems: list[Problem] = []
    positions = {GENESIS: 0}  # chain hash -> entry number, to tell "entries added after" from "not this chain"
    with _connect(db) as conn:
        rows = conn.execute("SELECT seq, entry_id, file_sha256, content, content_sha256, prev_sha256, entry_sha256 "
                            "FROM entries ORDER BY seq").fetchall()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        index: dict[int, list[tuple[int, int, int, int]]] = {}
        for r in conn.execute("SELECT chunk, value, seq, sample FROM hash_index ORDER BY seq, sample, chunk"):
            index.setdefault(r[2], []).append(tuple(r))
    prev = GENESIS
    expected_seq = 1
    for position, (seq, entry_id, file_sha, content, content_sha, prev_sha, entry_sha) in enumerate(rows, 1):
        if seq != expected_seq:
            problems.append(Problem(seq, entry_id, f"sequence gap: expected entry {expected_seq} (an entry was deleted)"))
        expected_seq = seq + 1  # report each gap once, not again for every later entry
        actual = sha256_bytes(content.encode())
        if actual != content_sha:
            problems.append(Problem(seq, entry_id, "content does not match its stored SHA-256 (entry edited)"))
        if entry_id != content_sha[:12]:
            problems.append(Problem(seq, entry_id, "entry id does not match its content hash"))
        if prev_sha != prev:
            problems.append(Problem(seq, entry_id, "link to the previous entry is broken (entries deleted or reordered)"))
        if entry_sha != sha256_bytes((prev_sha + content_sha).encode()):
            problems.append(Problem(seq, entry_id, "chain hash does not match (entry edited)"))
        try:
            d = json.loads(content)
            fp = Fingerprint.from_json(d["fingerprint"])
            if d["file_sha256"] != file_sha:
                problems.append(Problem(seq, entry_id, "file hash column differs from the entry's content"))
            want = sorted(_index_rows(seq, fp), key=lambda t: (t[3], t[0]))
            if index.get(seq, []) != want:
                problems.append(Problem(seq, entry_id, "lookup index differs from the entry's fingerprint"))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(seq, entry_id, f"content is not a readable entry ({exc})"))
        prev = entry_sha
        positions.setdefault(entry_sha, position)
    stray = set(index) - {r[0] for r in rows}
    if stray:
        problems.append(Problem(None, None, f"lookup index holds rows of missing entries {sorted(stray)[:5]}"))
    if meta.get("head", GENESIS) != prev or meta.get("count", "0") != str(len(rows)):
        problems.append(Problem(None, None, f"head record says {meta.get('count')} entries ending in "
                                            f"{str(meta.get('head'))[:12]}, the chain has {len(rows)} ending in "
                                            f"{prev[:12]} (newest entries removed or head edited)"))
    head_problem = _head_problem(expected, prev, len(rows), positions) if expected is not None else None
    if head_problem is not None:
        problems.append(head_problem)
    return VerifyResult(len(rows), prev, tuple(problems), expected, head_problem)


@dataclass(frozen=True)
class ProvenanceMatch:
    """The registered original a suspect was cut from, and where its face differs."""

    entry: RegistryEntry
    offset_s: float  # suspect time t corresponds to original time t + offset_s
    shift: int  # the same offset in samples
    background_similarity: float
    face_similarity: float | None
    changed_segments: tuple[tuple[float, float], ...]
    changed_samples: tuple[int, ...]  # every changed sample, also those in runs too short for a segment
    compared_samples: int

    @property
    def changed_fraction(self) -> float:
        """Share of compared samples inside a changed segment (suspect and original share one sample rate)."""
        hz = self.entry.fingerprint.hz
        inside = sum(any(a <= i / hz < b for a, b in self.changed_segments) for i in self.changed_samples)
        return inside / max(1, self.compared_samples)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.entry.entry_id, "label": self.entry.label, "offset_s": round(self.offset_s, 3),
                "background_similarity": round(self.background_similarity, 4),
                "face_similarity": None if self.face_similarity is None else round(self.face_similarity, 4),
                "changed_segments": [[round(a, 3), round(b, 3)] for a, b in self.changed_segments],
                "original_file": self.entry.file_name, "compared_s": round(self.compared_samples / self.entry.fingerprint.hz, 2)}


def _candidates(conn: sqlite3.Connection, fp: Fingerprint, limit: int = 5,
                max_shifts: int = 8) -> list[tuple[int, list[int]]]:
    """(seq, voted time shifts) of the best-voted entries; up to ``max_shifts`` shifts with at least
    half the top vote, so aligning a long static shot costs a bounded number of comparisons.

    A static camera gives near-identical background hashes over time, so several shifts can win
    the vote; ``_align`` settles between them with the face hashes, which follow the motion.
    """
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS query (chunk INTEGER, value INTEGER, sample INTEGER)")
    conn.execute("DELETE FROM query")
    conn.executemany("INSERT INTO query VALUES (?, ?, ?)",
                     [(c, v, i) for i, h in enumerate(fp.background) for c, v in _chunks(h)])
    rows = conn.execute(
        "SELECT h.seq, h.sample - q.sample AS shift, COUNT(DISTINCT q.sample) AS votes "
        "FROM query q JOIN hash_index h ON h.chunk = q.chunk AND h.value = q.value "
        "GROUP BY h.seq, shift ORDER BY votes DESC LIMIT 500").fetchall()
    top: dict[int, int] = {}
    shifts: dict[int, list[int]] = {}
    for seq, shift, votes in rows:
        if votes < MIN_VOTES:
            continue
        top.setdefault(seq, votes)
        if votes * 2 >= top[seq] and len(shifts.get(seq, [])) < max_shifts:
            shifts.setdefault(seq, []).append(shift)
    return list(shifts.items())[:limit]


def _background_distance(s: Fingerprint, r: Fingerprint, shift: int) -> tuple[float, list[int]]:
    pairs = [i for i in range(len(s)) if 0 <= i + shift < len(r)]
    if not pairs:
        return 64.0, []
    return float(np.mean([hamming(s.background[i], r.background[i + shift]) for i in pairs])), pairs


def _align(s: Fingerprint, r: Fingerprint, voted: list[int]) -> int:
    """The shift (around the voted ones) with the least background plus face-hash distance."""
    def cost(shift: int) -> float:
        bg, pairs = _background_distance(s, r, shift)
        faces = [hamming(a, b) for i in pairs if (a := s.face[i]) is not None and (b := r.face[i + shift]) is not None]
        return bg + (float(np.mean(faces)) if faces else 0.0) + (0.0 if len(pairs) >= MIN_OVERLAP_SAMPLES else 64.0)

    near = sorted({v + d for v in voted for d in range(-2, 3)})
    return min(near, key=lambda sh: (cost(sh), abs(sh - voted[0])))


def _nearest_embedding(fp: Fingerprint, j: int, reach: int = 2) -> np.ndarray | None:
    for d in range(reach + 1):
        for k in (j - d, j + d):
            if k in fp.embeddings:
                return fp.embeddings[k]
    return None


def _segments(samples: Sequence[int], hz: float, max_gap: int = 2) -> list[tuple[float, float]]:
    runs: list[list[int]] = []
    for i in samples:
        if runs and i - runs[-1][-1] <= max_gap:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [(r[0] / hz, (r[-1] + 1) / hz) for r in runs if len(r) >= MIN_SEGMENT_SAMPLES]


def compare(suspect: Fingerprint, original: RegistryEntry, shift: int) -> ProvenanceMatch:
    """Compare a suspect with a registered original at a given sample shift."""
    r = original.fingerprint
    dist, pairs = _background_distance(suspect, r, shift)
    sims: list[float] = []
    changed: list[int] = []
    for i in pairs:
        a, b = suspect.face[i], r.face[i + shift]
        if a is None and b is None:
            continue
        if a is None or b is None:  # a face appeared or vanished
            changed.append(i)
            sims.append(0.0)
            continue
        d_hash = hamming(a, b)
        sim = 1.0 - min(d_hash / 32.0, 1.0)
        is_changed = d_hash > FACE_HASH_CHANGED
        # identity decides where both sides have an embedding within half a second: a re-encode, a smaller
        # copy or a one-sample misalignment moves the face hash, but not who the face belongs to
        e_s, e_r = _nearest_embedding(suspect, i), _nearest_embedding(r, i + shift)
        if e_s is not None and e_r is not None:
            d_emb = float(np.linalg.norm(e_s - e_r))
            sim = min(sim, 1.0 - min(d_emb, 1.0))  # dlib distances: same person ~0.3, strangers 0.7-1.0
            is_changed = (d_emb > EMBEDDING_CHANGED or d_hash > FACE_HASH_CHANGED_SAME_PERSON
                          or (d_emb > EMBEDDING_DOUBT and d_hash > FACE_HASH_CHANGED))
        sims.append(sim)
        if is_changed:
            changed.append(i)
    return ProvenanceMatch(
        entry=original, offset_s=shift / r.hz, shift=shift,
        background_similarity=float(max(0.0, 1.0 - dist / 32.0)),
        face_similarity=float(np.mean(sims)) if sims else None,
        changed_segments=tuple(_segments(changed, suspect.hz)), changed_samples=tuple(changed),
        compared_samples=len(pairs))


def find_original(db: Path, suspect: Fingerprint) -> ProvenanceMatch | None:
    """The registered original that best explains the suspect's background, or None."""
    if len(suspect) == 0:
        return None
    with _connect(db) as conn:
        cands = _candidates(conn, suspect)
        contents = {seq: conn.execute("SELECT entry_id, content FROM entries WHERE seq = ?", (seq,)).fetchone()
                    for seq, _ in cands}
    best: ProvenanceMatch | None = None
    for seq, voted in cands:
        entry = _entry(seq, *contents[seq])
        s = _align(suspect, entry.fingerprint, voted)
        m = compare(suspect, entry, s)
        shorter = min(len(suspect), len(entry.fingerprint))
        if (m.background_similarity >= BG_MATCH_SIMILARITY and m.compared_samples >= MIN_OVERLAP_SAMPLES
                and m.compared_samples >= 0.5 * shorter
                and (best is None or m.background_similarity > best.background_similarity)):
            best = m
    return best
