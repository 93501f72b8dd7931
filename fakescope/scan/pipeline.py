"""One pass over a video feeding every analyzer, ending in the verdict JSON of DESIGN.md."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope import __version__
from fakescope.core.analyzers import Analyzer, CropCache
from fakescope.core.errors import UnusableInputError
from fakescope.core.faces import FaceTracker, PipelineConfig
from fakescope.core.hashing import sha256_file
from fakescope.core.types import Evidence, KeyFrame, Verdict
from fakescope.core.video import DEFAULT_MAX_BYTES, FrameStats, iter_frames, probe
from fakescope.scan.analyzers import build_analyzers
from fakescope.scan.fusion import fuse, weighed_analyzers
from fakescope.scan.judged import JudgedFrames

DESIGN_ANALYZERS = ("detector", "blink", "edges", "pulse", "temporal", "avsync", "credentials", "provenance")
# The keys DESIGN.md lists per analyzer, filled in when an analyzer had nothing to say (e.g. no face).
EMPTY_DETAILS: dict[str, dict[str, Any]] = {
    "detector": {"per_frame": []},
    "blink": {"blinks": 0, "rate_per_min": None, "events": [], "ear": []},
    "edges": {"per_frame": []},
    "pulse": {"bpm": None},
    "temporal": {"per_frame": []},
    "avsync": {"lag_ms": None, "correlation": None, "disagreeing_windows": []},
    "credentials": {"c2pa": None, "watermark": {"found": False, "payload": None}},
    "provenance": {"match": None},
}
PROGRESS_EVERY = 10  # frames between progress_callback calls


@dataclass(frozen=True)
class ScanConfig:
    detector: str = "default"
    registry: Path | None = None
    analyzers: tuple[str, ...] | None = None  # None: every installed analyzer
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    max_bytes: int = DEFAULT_MAX_BYTES
    progress: bool = True
    detector_every: int = 3  # score every n-th frame of each track with the CNN
    device: str = "auto"  # where the CNN runs: auto (CUDA when present) | cpu | cuda


def naive_config(detector: str = "default") -> ScanConfig:
    """The way older reference detectors work: full-resolution HOG (upsample 1) on every frame and
    the CNN on every frame. Kept for benchmarks, to show what the defaults save."""
    return ScanConfig(detector=detector, progress=False, detector_every=1,
                      pipeline=PipelineConfig(detector="hog", detect_every=1, detect_every_empty=1,
                                              detect_max_side=100_000, upsample=1))


@dataclass(frozen=True)
class ScanResult:
    """The verdict JSON plus what a report needs that JSON readers do not (kept out of the JSON)."""

    record: dict[str, Any]
    verdict: Verdict
    track_evidence: dict[int, list[Evidence]]
    skipped: dict[str, str]
    key_frames: tuple[KeyFrame, ...] = ()


def _progress(total: int, enabled: bool, name: str):  # noqa: ANN202
    from tqdm import tqdm

    return tqdm(total=total or None, desc=name[-30:], unit="frame", disable=(not enabled) or None,
                file=sys.stderr, leave=False)


def _analyzer_json(ev: Evidence) -> dict[str, Any]:
    return {"score": float(ev.score), "status": ev.status, **ev.details}


def scan_video(path: str | Path, config: ScanConfig | None = None, analyzers: list[Analyzer] | None = None,
               progress_callback: Callable[[int, int], None] | None = None, skipped: dict[str, str] | None = None,
               ) -> ScanResult:
    """Analyse one video. Raises UnusableInputError for files that are not usable videos.

    ``progress_callback(frames_done, frames_expected)`` is called every ``PROGRESS_EVERY`` frames
    and once at the end, for UIs (the dashboard) that show progress; ``frames_expected`` is the
    container's count (0 when unknown). Callers that pass ready ``analyzers`` (e.g. with models
    loaded once) pass ``skipped`` too, so the record lists the left-out analyzers as the CLI does.
    """
    config = config or ScanConfig()
    p = Path(path)
    t0 = time.perf_counter()
    info = probe(p, max_bytes=config.max_bytes)
    digest = sha256_file(p)
    skipped = dict(skipped or {})
    if analyzers is None:
        analyzers, skipped = build_analyzers(config, list(config.analyzers) if config.analyzers else None)
    for a in analyzers:
        a.start(info)
    # read once per scan, not per frame: the analyzers that also want frames without a face
    every_frame = [a for a in analyzers if a.needs.faceless_frames]

    tracker = FaceTracker(config.pipeline)
    crops = CropCache()
    stats = FrameStats()
    frames_with_face = 0
    track_frames: dict[int, int] = {}
    judged = JudgedFrames()  # frames each track's face could be judged in (fakescope.scan.judged)
    bar = _progress(info.frames, config.progress, p.name)
    try:
        for index, ts, frame in iter_frames(p, info):
            faces = tracker.process(index, ts, frame)
            stats.add(ts)
            if faces:
                frames_with_face += 1
                for f in faces:
                    track_frames[f.track_id] = track_frames.get(f.track_id, 0) + 1
                judged.add(faces)
            crops.reset(index, frame)
            for a in (analyzers if faces else every_frame):
                a.update(index, ts, frame, faces, crops)
            bar.update(1)
            if progress_callback is not None and stats.frames % PROGRESS_EVERY == 0:
                progress_callback(stats.frames, info.frames)
    finally:
        bar.close()
    if progress_callback is not None:
        progress_callback(stats.frames, info.frames)
    info = stats.finalize(info)
    if stats.frames < 2:
        raise UnusableInputError(str(p), "has fewer than two decodable frames: a still image, not a video")

    track_evidence: dict[int, list[Evidence]] = {tid: [] for tid in track_frames}
    models: dict[str, str] = {}
    for a in analyzers:
        for tid, ev in a.finish().items():
            track_evidence.setdefault(tid, []).append(ev)
        models.update(a.model_hashes)
    key_frames: list[KeyFrame] = [k for a in analyzers for k in a.key_frames()]
    # Evidence about the file (content credentials) belongs to every face, and is all a faceless file has.
    file_evidence = [ev for a in analyzers if (ev := a.file_evidence()) is not None]
    for evs in track_evidence.values():
        evs.extend(file_evidence)
    per_track = {tid: fuse(evs) for tid, evs in track_evidence.items()}
    if per_track:
        chosen = max(per_track, key=lambda t: (per_track[t].label != "inconclusive", per_track[t].fake_probability))
        verdict = Verdict(per_track[chosen].label, per_track[chosen].fake_probability,
                          tuple(track_evidence[chosen]), chosen, per_track[chosen].reason)
    elif any(ev.status == "ok" for ev in file_evidence):
        by_file = fuse(file_evidence)
        verdict = Verdict(by_file.label, by_file.fake_probability, tuple(file_evidence), None,
                          "no face was found in any frame; the verdict rests on the file's content credentials")
    else:
        verdict = Verdict("inconclusive", 0.5, tuple(file_evidence), None, "no face was found in any frame")

    by_name = {ev.analyzer: ev for ev in verdict.evidence}
    analyzers_json: dict[str, Any] = {}
    for name in DESIGN_ANALYZERS:
        if name in by_name:
            analyzers_json[name] = _analyzer_json(by_name[name])
        elif name not in skipped:
            analyzers_json[name] = {"score": 0.5, "status": "insufficient", **EMPTY_DETAILS[name],
                                    "reason": "no face was analysed" if not per_track else "no evidence for this track"}
    for name, ev in by_name.items():
        if name not in analyzers_json:
            analyzers_json[name] = _analyzer_json(ev)

    seconds = time.perf_counter() - t0
    record: dict[str, Any] = {
        "file": str(p),
        "sha256": digest,
        "verdict": verdict.label,
        "fake_probability": round(float(verdict.fake_probability), 6),
        "video": info.as_json(),
        "faces": judged.faces_json(info.frames, frames_with_face, len(track_frames), verdict.track_id),
        "analyzers": analyzers_json,
        "timing": {"seconds": round(seconds, 3), "frames_per_second": round(stats.frames / max(seconds, 1e-9), 2)},
        "versions": {"fakescope": __version__, "models": models},
        "selected_track": verdict.track_id,
        "tracks": [
            {"track_id": tid, "frames": track_frames.get(tid, 0), "verdict": v.label,
             "fake_probability": round(float(v.fake_probability), 6), **judged.track_json(tid),
             "analyzers": {ev.analyzer: {"score": round(float(ev.score), 6), "status": ev.status}
                           for ev in track_evidence[tid]}}
            for tid, v in sorted(per_track.items())
        ],
        "reason": verdict.reason,
        "fusion": {"weighed": sorted(weighed_analyzers())},
        "rotation": info.rotation,
        "variable_frame_rate": info.variable_frame_rate,
        "skipped_analyzers": skipped,
    }
    return ScanResult(record=record, verdict=verdict, track_evidence=track_evidence, skipped=skipped,
                      key_frames=tuple(k for k in key_frames if k.track_id in (None, verdict.track_id)))
