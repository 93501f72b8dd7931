"""A video's audio track as a speech envelope, decoded by ffmpeg and streamed (memory stays flat).

Why an envelope and not words: lip movement follows the loudness of speech within a syllable
(about 4-8 Hz), so the energy of the speech band over time is what a mouth can be compared with.
The band (300-3400 Hz, telephone speech) leaves out hum, wind and most music bass.

Timing: ffmpeg decodes onto the file's timeline (``aresample=async=1:first_pts=0`` pads a late
audio track with silence and drops AAC priming), so sample ``i`` lies at the file's start plus
``i / rate``; video frame timestamps (fakescope.core.video.iter_frames) count from the video
stream's start. ``Envelope.times`` is already on the video's clock (file start minus video start
added), so a clip whose audio was muxed late (``-itsoffset``) is measured late.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
HOP_S = 0.01  # envelope rate: 100 values per second
SPEECH_BAND_HZ = (300.0, 3400.0)
CHUNK_SAMPLES = SAMPLE_RATE * 2  # two seconds per read


class AudioUnavailable(Exception):
    """The file has no audio track or it cannot be decoded; the message says which, for the report."""


@dataclass(frozen=True)
class Envelope:
    """Speech-band energy every ``HOP_S`` seconds: ``log_energy`` (natural log of mean square,
    floored) at ``times`` (seconds on the video stream's clock)."""

    times: np.ndarray
    log_energy: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.times[-1] - self.times[0] + HOP_S) if self.times.size else 0.0


def _ffprobe_streams(path: Path) -> list[dict[str, object]]:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise AudioUnavailable("ffprobe is not installed, so the audio track cannot be read")
    proc = subprocess.run([exe, "-v", "error", "-show_entries", "stream=index,codec_type,start_time:format=start_time",
                           "-of", "json", str(path)], capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise AudioUnavailable("ffprobe cannot read the file's streams")
    data = json.loads(proc.stdout or "{}")
    return [*data.get("streams", []), {"codec_type": "format", **data.get("format", {})}]


def _start(stream: dict[str, object] | None) -> float:
    try:
        return float(stream.get("start_time", 0.0)) if stream else 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def has_audio(path: str | Path) -> bool:
    try:
        return any(s.get("codec_type") == "audio" for s in _ffprobe_streams(Path(path)))
    except AudioUnavailable:
        return False


def speech_envelope(path: str | Path, max_seconds: float | None = None) -> Envelope:
    """Decode the first audio stream (mono, 16 kHz) chunk by chunk and return its speech envelope.

    Raises AudioUnavailable when there is no audio stream, ffmpeg is missing, or nothing decodes.
    """
    from scipy.signal import butter, sosfilt, sosfilt_zi

    p = Path(path)
    streams = _ffprobe_streams(p)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if audio is None:
        raise AudioUnavailable("the file has no audio track")
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    file_start = next((s for s in streams if s.get("codec_type") == "format"), None)
    offset = _start(file_start) - _start(video)
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioUnavailable("ffmpeg is not installed, so the audio track cannot be decoded")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(p), "-map", "0:a:0", "-vn", "-ac", "1",
           "-ar", str(SAMPLE_RATE), "-af", "aresample=async=1:first_pts=0", "-f", "s16le"]
    if max_seconds is not None:
        cmd += ["-t", f"{max_seconds:.3f}"]
    cmd.append("-")
    sos = butter(4, SPEECH_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    zi = sosfilt_zi(sos) * 0.0
    hop = int(round(HOP_S * SAMPLE_RATE))
    energies: list[np.ndarray] = []
    rest = np.zeros(0, np.float64)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        pending = b""
        while True:
            data = proc.stdout.read(CHUNK_SAMPLES * 2)
            if not data:
                break
            data = pending + data
            cut = len(data) - len(data) % 2
            pending = data[cut:]
            x = np.frombuffer(data[:cut], "<i2").astype(np.float64) / 32768.0
            y, zi = sosfilt(sos, x, zi=zi)
            y = np.concatenate([rest, y])
            n = len(y) // hop
            energies.append((y[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
            rest = y[n * hop:]
    finally:
        proc.stdout.close() if proc.stdout else None
        proc.wait(timeout=60)
    energy = np.concatenate(energies) if energies else np.zeros(0)
    if energy.size == 0:
        raise AudioUnavailable("the audio track could not be decoded")
    times = offset + (np.arange(energy.size) + 0.5) * HOP_S
    return Envelope(times=times, log_energy=np.log(np.maximum(energy, 1e-10)))
