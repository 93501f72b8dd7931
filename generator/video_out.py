"""Writing rendered videos: OpenCV first, then ffmpeg (when installed) for H.264 and the input's audio.

Why two stages: OpenCV's writer is always available but only writes MPEG-4 part 2 without
audio; a swapped clip that silently loses its soundtrack is useless for a test set, so when
ffmpeg is on PATH the OpenCV file is re-encoded to H.264 and the input's audio is copied in.
``-fps_mode passthrough`` keeps every frame: the output must have the input's frame count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class FinalizeResult:
    codec: str  # "h264", "mpeg4"
    audio: bool


class OpenCVSink:
    """Frame sink that writes to a hidden temporary file next to ``output`` (renamed on finalize)."""

    def __init__(self, output: Path, fps: float, width: int, height: int) -> None:
        self.output = Path(output)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.output.parent, prefix=f".{self.output.stem}.", suffix=".mp4")
        os.close(fd)
        self.tmp = Path(tmp)
        self.size = (int(width), int(height))
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), self.size)
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise RuntimeError(f"OpenCV cannot open an mp4v writer for {self.output}")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the video is {self.size[0]}x{self.size[1]}")
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        self.writer.release()

    def abort(self) -> None:
        self.writer.release()
        self.tmp.unlink(missing_ok=True)


def _ffmpeg_has_encoder(ffmpeg: str, name: str) -> bool:
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.split()[1:2] == [name] for line in out.stdout.splitlines() if line.strip())


def finalize(sink: OpenCVSink, audio_source: Path | None, h264: bool = True, crf: int = 18, keep_audio: bool = True) -> FinalizeResult:
    """Move the OpenCV file to the output, re-encoded with ffmpeg (H.264 + input audio) when possible."""
    sink.close()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        os.replace(sink.tmp, sink.output)
        return FinalizeResult(codec="mpeg4", audio=False)
    use_h264 = h264 and _ffmpeg_has_encoder(ffmpeg, "libx264")
    vcodec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p"] if use_h264 else ["-c:v", "copy"]
    fd, tmp2 = tempfile.mkstemp(dir=sink.output.parent, prefix=f".{sink.output.stem}.ff.", suffix=".mp4")
    os.close(fd)
    inputs = ["-i", str(sink.tmp)]
    maps = ["-map", "0:v:0"]
    want_audio = keep_audio and audio_source is not None
    if want_audio:
        inputs += ["-i", str(audio_source)]
        maps += ["-map", "1:a:0?"]
    base = [ffmpeg, "-v", "error", "-y", *inputs, *maps, *vcodec, "-fps_mode", "passthrough", "-movflags", "+faststart"]
    attempts = [["-c:a", "copy"], ["-c:a", "aac", "-b:a", "160k"]] if want_audio else [[]]
    try:
        for audio_args in attempts:
            proc = subprocess.run([*base, *audio_args, tmp2], capture_output=True, text=True)
            if proc.returncode == 0:
                has_audio = want_audio and _has_audio(tmp2)
                os.replace(tmp2, sink.output)
                sink.tmp.unlink(missing_ok=True)
                return FinalizeResult(codec="h264" if use_h264 else "mpeg4", audio=has_audio)
    finally:
        Path(tmp2).unlink(missing_ok=True)
    # ffmpeg failed on this input: the OpenCV file is still a valid video.
    os.replace(sink.tmp, sink.output)
    return FinalizeResult(codec="mpeg4", audio=False)


def _has_audio(path: str | Path) -> bool:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return False
    out = subprocess.run([ffprobe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True)
    return bool(out.stdout.strip())
