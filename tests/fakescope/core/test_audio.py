import subprocess
from pathlib import Path

import numpy as np
import pytest

from fakescope.core.audio import HOP_S, AudioUnavailable, has_audio, speech_envelope
from forensics.avsync import AvSyncConfig, speech_mask
from tests.conftest import needs_ffmpeg

pytestmark = needs_ffmpeg
FIXTURE = Path(__file__).parents[2] / "fixtures" / "speech_head.mp4"


def test_speech_envelope_covers_the_clip_and_finds_speech() -> None:
    env = speech_envelope(FIXTURE)
    assert has_audio(FIXTURE)
    assert env.duration_s == pytest.approx(8.0, abs=0.15)
    assert np.allclose(np.diff(env.times), HOP_S)
    assert 0.3 < speech_mask(env, AvSyncConfig().speech_db).mean() < 0.95


def test_a_late_audio_track_lands_late_on_the_video_clock(tmp_path: Path) -> None:
    late = tmp_path / "late.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(FIXTURE), "-itsoffset", "0.7", "-i",
                    str(FIXTURE), "-map", "0:v", "-map", "1:a", "-c", "copy", str(late)], check=True)
    env, moved = speech_envelope(FIXTURE), speech_envelope(late)
    grid = np.arange(1.0, 7.5, HOP_S)
    own = np.interp(grid, env.times, env.log_energy)
    lags = np.arange(0.0, 1.2, HOP_S)
    corr = [np.corrcoef(own, np.interp(grid + lag, moved.times, moved.log_energy))[0, 1] for lag in lags]
    assert lags[int(np.argmax(corr))] == pytest.approx(0.7, abs=0.015)  # the same sound, 700 ms later
    assert max(corr) > 0.95


def test_a_video_without_audio_says_so(talking_head: Path) -> None:
    assert not has_audio(talking_head)
    with pytest.raises(AudioUnavailable, match="no audio track"):
        speech_envelope(talking_head)
