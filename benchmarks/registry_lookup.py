"""Provenance registry: matching accuracy on shared clips and lookup time as the registry grows.

    python benchmarks/registry_lookup.py [--data ../shared/data] [--sizes 100 1000 10000] [--out DIR]

1. Registers the shared talking-head clips, then looks up, for each clip, a copy that was
   re-encoded (CRF 32), resized to 60 %, cropped by 2 % per side and trimmed by 1.25 s: prints
   the share found with the right original and the right offset (within 0.25 s), and the
   share of unrelated clips (other clips' copies never count for the wrong original).
2. Pads the same registry with synthetic entries (a static scene per entry: one random hash
   with a few flipped bits per sample) up to each size and times one lookup there, next to a
   linear scan that compares the suspect against every stored entry.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from fakescope.core.hashing import sha256_bytes
from fakescope.provenance.analyzer import register_videos
from fakescope.provenance.fingerprint import Fingerprint, fingerprint_video, hamming
from fakescope.provenance.registry import _index_rows, canonical_json, find_original

TRIM_S = 1.25


def shared_clips(data: Path, min_s: float = 4.0) -> list[Path]:
    from fakescope.core.video import probe

    rows = [ln.split("\t") for ln in (data / "MANIFEST.tsv").read_text().splitlines()[1:]]
    out = []
    for r in rows:
        if r[0].endswith(".mp4") and r[6] == "real" and r[7] and r[8] and int(r[7]) / float(r[8]) >= min_s:
            p = data / r[0]
            if "hamilton" not in p.name and p.is_file() and probe(p).duration_s >= min_s:
                out.append(p)
    return out


def make_copy(src: Path, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(TRIM_S), "-i", str(src), "-an",
                    "-vf", "crop=iw*0.96:ih*0.96:iw*0.02:ih*0.02,scale=trunc(iw*0.6/2)*2:-2",
                    "-c:v", "libx264", "-crf", "32", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def pad_registry(db: Path, n: int, rng: random.Random, samples: int = 40) -> None:
    """Bulk-insert synthetic entries (chain-linked like real ones) in one transaction."""
    conn = sqlite3.connect(db)
    seq, prev = conn.execute("SELECT seq, entry_sha256 FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    rows, index = [], []
    for _ in range(n):
        seq += 1
        base = rng.getrandbits(64)
        bg = [base ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for _ in range(samples)]
        fp = Fingerprint(4.0, samples / 4, tuple(bg), tuple(bg), tuple([None] * samples))
        content = canonical_json({"label": f"synthetic {seq}", "file_name": f"s{seq}.mp4", "file_sha256": f"{seq:064x}",
                                  "added_at": "2026-01-01T00:00:00+00:00", "video": {}, "fingerprint": fp.as_json()})
        csha = sha256_bytes(content.encode())
        esha = sha256_bytes((prev + csha).encode())
        rows.append((seq, csha[:12], f"{seq:064x}", content, csha, prev, esha))
        index.extend(_index_rows(seq, fp))
        prev = esha
    with conn:
        conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO hash_index VALUES (?, ?, ?, ?)", index)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (prev,))
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('count', ?)", (str(seq),))
    conn.close()


def linear_scan(db: Path, suspect: Fingerprint) -> float:
    """What a registry without an index must do: read and compare every entry."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(db)
    best = 64.0
    for (content,) in conn.execute("SELECT content FROM entries"):
        fp = Fingerprint.from_json(json.loads(content)["fingerprint"])
        m = min(len(fp), len(suspect))
        if m:
            best = min(best, float(np.mean([hamming(a, b) for a, b in zip(suspect.background[:m], fp.background[:m],
                                                                           strict=True)])))
    conn.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000, 30000])
    ap.add_argument("--limit", type=int, default=None, help="use only the first N shared clips")
    args = ap.parse_args()
    clips = shared_clips(args.data)[: args.limit]
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        db = tmp / "registry.db"
        t0 = time.perf_counter()
        register_videos(clips, db)
        print(f"registered {len(clips)} shared clips in {time.perf_counter() - t0:.1f} s")
        right = wrong_entry = missed = 0
        offsets, sims, suspects = [], [], []
        for c in clips:
            fp, _ = fingerprint_video(str(make_copy(c, tmp / "copy.mp4")))
            suspects.append((c, fp))
            m = find_original(db, fp)
            if m is None:
                missed += 1
                print(f"  {c.name}: no match")
                continue
            if m.entry.file_name != c.name:
                wrong_entry += 1
                print(f"  {c.name}: matched the wrong original {m.entry.file_name}")
                continue
            right += abs(m.offset_s - TRIM_S) <= 0.25
            offsets.append(m.offset_s - TRIM_S)
            sims.append(m.background_similarity)
            if m.changed_segments:
                print(f"  {c.name}: face flagged as changed in {m.changed_segments} (false alarm)")
        print(f"copies (CRF 32, 60 % size, 2 % crop per side, trimmed {TRIM_S} s): {right}/{len(clips)} matched "
              f"with the right original and offset; {wrong_entry} wrong original, {missed} missed; "
              f"background similarity median {np.median(sims):.3f}, min {min(sims):.3f}; "
              f"offset error max {max(abs(o) for o in offsets):.2f} s")
        rng = random.Random(0)
        have = len(clips)
        print(f"{'entries':>8} {'indexed lookup ms':>18} {'linear scan ms':>15} {'db MB':>7}")
        for size in args.sizes:
            if size > have:
                pad_registry(db, size - have, rng)
                have = size
            _, fp = suspects[len(suspects) // 2]
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                m = find_original(db, fp)
                times.append(time.perf_counter() - t0)
            assert m is not None
            lin = linear_scan(db, fp)
            print(f"{have:>8} {1000 * min(times):>18.1f} {1000 * lin:>15.1f} {db.stat().st_size / 1e6:>7.1f}")


if __name__ == "__main__":
    main()
