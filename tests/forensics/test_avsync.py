"""Audio-visual sync on a real talking head with its own speech, and the same picture with changed audio."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fakescope.core.audio import Envelope, speech_envelope
from fakescope.core.faces import FacePipeline
from fakescope.core.video import probe
from forensics.avsync import AvSyncAnalyzer, AvSyncConfig, sync
from tests.conftest import needs_ffmpeg

pytestmark = needs_ffmpeg  # the audio track is read by ffmpeg
FIXTURE = Path(__file__).parents[1] / "fixtures" / "speech_head.mp4"


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _analyse(path: Path) -> dict:
    info = probe(path)
    an = AvSyncAnalyzer()
    an.start(info)
    for index, ts, frame, faces in FacePipeline().run(path, info):
        an.update(index, ts, frame, faces, None)
    (ev,) = an.finish().values()
    return {"status": ev.status, "score": ev.score, **ev.details}


@pytest.fixture(scope="module")
def mouth_track() -> tuple[np.ndarray, np.ndarray]:
    an = AvSyncAnalyzer()
    info = probe(FIXTURE)
    an.start(info)
    for index, ts, frame, faces in FacePipeline().run(FIXTURE, info):
        an.update(index, ts, frame, faces, None)
    (tid,) = an._t
    return np.asarray(an._t[tid]), np.stack(an._m[tid])


@pytest.fixture(scope="module")
def original() -> dict:
    return _analyse(FIXTURE)


def test_a_genuine_clip_is_in_sync(original: dict) -> None:
    assert original["status"] == "ok"
    assert abs(original["lag_ms"]) <= 150 and original["correlation"] > 0.25
    assert original["score"] < 0.5 and original["disagreeing_windows"] == []
    assert len(original["curves"]["t"]) == len(original["curves"]["mouth"]) == len(original["curves"]["audio"]) > 50


@pytest.mark.parametrize("shift_s", [0.5, -0.5])
def test_shifted_audio_is_measured_at_the_shift(mouth_track: tuple[np.ndarray, np.ndarray], shift_s: float) -> None:
    times, mouth = mouth_track
    env = speech_envelope(FIXTURE)
    own = sync(times, mouth, env, AvSyncConfig())
    moved = sync(times, mouth, Envelope(env.times + shift_s, env.log_energy), AvSyncConfig())
    assert not isinstance(own, str) and not isinstance(moved, str)
    assert abs((moved.lag_s - own.lag_s) - shift_s) <= 0.08
    assert moved.features["outside"] == 1.0  # half a second late or early is outside what genuine clips show


def test_a_late_audio_track_in_the_file_is_found_and_scored_as_a_fake(tmp_path: Path, original: dict) -> None:
    late = tmp_path / "late.mp4"
    _ffmpeg("-i", str(FIXTURE), "-itsoffset", "0.5", "-i", str(FIXTURE), "-map", "0:v", "-map", "1:a", "-c", "copy",
            str(late))
    res = _analyse(late)
    assert res["status"] == "ok" and abs(res["lag_ms"] - original["lag_ms"] - 500) <= 80
    assert res["score"] > 0.5 > original["score"]


def test_replaced_audio_scores_higher_than_the_clips_own(tmp_path: Path, original: dict) -> None:
    dubbed = tmp_path / "dubbed.mp4"  # the same speech played backwards: speech-like, but not these words
    _ffmpeg("-i", str(FIXTURE), "-af", "areverse", "-c:v", "copy", "-c:a", "aac", str(dubbed))
    res = _analyse(dubbed)
    assert res["status"] == "ok"
    assert res["score"] > 0.5 > original["score"]
    assert res["features"]["peak_corr"] < original["features"]["peak_corr"] - 0.1


def test_no_audio_track_is_insufficient(talking_head: Path) -> None:
    res = _analyse(talking_head)
    assert res["status"] == "insufficient" and res["score"] == 0.5
    assert res["lag_ms"] is None and "no audio track" in res["reason"]


def test_a_face_that_does_not_speak_is_not_judged(tmp_path: Path) -> None:
    still, frame = tmp_path / "still.mp4", tmp_path / "f.png"
    _ffmpeg("-i", str(FIXTURE), "-frames:v", "1", str(frame))
    _ffmpeg("-loop", "1", "-framerate", "25", "-i", str(frame), "-i", str(FIXTURE), "-map", "0:v", "-map", "1:a",
            "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "copy", str(still))
    res = _analyse(still)
    assert res["status"] == "insufficient" and "hardly moves" in res["reason"]


def test_training_needs_three_clips_and_writes_a_model_only_then(tmp_path: Path) -> None:
    from forensics.jsonmodel import JsonClassifier
    from forensics.train_avsync import train

    rng = np.random.default_rng(0)

    def row(clip: str, kind: str) -> dict:
        real = kind == "real"
        return {"clip": clip, "audio": clip, "kind": kind, "shift_s": 0.0, "label": int(not real), "lag_s": 0.0,
                "peak_corr": rng.normal(0.4 if real else 0.15, 0.05), "prominence": rng.normal(0.3 if real else 0.08, 0.05),
                "gap": abs(rng.normal(0.0 if real else 0.1, 0.05)), "abs_lag_s": abs(rng.normal(0.05 if real else 0.5, 0.1)), "outside": float(not real and rng.random() < 0.6),
                "disagree_frac": 0.0}

    with pytest.raises(ValueError, match="at least 3 real clips"):
        train([row("a", "real"), row("a", "swapped"), row("b", "real"), row("b", "swapped")])
    rows = [row(c, k) for c in "abcdef" for k in ("real", "swapped", "swapped", "shifted")]
    model, metrics = train(rows)
    assert metrics["clips"] == 6 and metrics["cv_auc_swapped"] > 0.9
    model.save(tmp_path / "m.json")
    again = JsonClassifier.from_json(json.loads((tmp_path / "m.json").read_text()))
    assert again.meta["metrics"]["clips"] == 6
