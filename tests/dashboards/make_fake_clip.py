"""How tests/fixtures/fake_selfblend.mp4 was made: a self-blended copy of the real talking_head clip.

The dashboard tests need a manipulated clip to upload, small enough to commit. We make it with our
own pseudo-fake code (generator.selfblend, the Self-Blended Images method the test-set builder
uses): the first ``frames`` frames of tests/fixtures/talking_head.mp4, each face blended with an
altered copy of itself with one fixed seed for the whole clip (the same draw on every frame, as
generator.testset does, so the blend does not flicker), encoded with bit-exact single-threaded
x264. Rerunning it gives the same file.

    python -m tests.dashboards.make_fake_clip            # rewrites tests/fixtures/fake_selfblend.mp4
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SOURCE = FIXTURES / "talking_head.mp4"
OUTPUT = FIXTURES / "fake_selfblend.mp4"


def make_fake_clip(source: Path = SOURCE, output: Path = OUTPUT, frames: int = 75, seed: int = 2,
                   crf: int = 23) -> Path:
    """Write ``frames`` self-blended frames of ``source`` to ``output`` (H.264 MP4); returns ``output``."""
    from fakescope.core.faces import FaceTracker
    from fakescope.core.video import iter_frames, probe
    from generator.selfblend import self_blend

    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is needed to encode the clip (apt-get install ffmpeg)")
    info = probe(source)
    tracker = FaceTracker()
    out: list[np.ndarray] = []
    for index, ts, frame in iter_frames(source, info):
        if index >= frames:
            break
        faces = tracker.process(index, ts, frame)
        if faces:
            main = min(faces, key=lambda f: f.track_id)
            frame = self_blend(frame, main.landmarks, np.random.default_rng(seed))[0]
        out.append(frame)
    if len(out) < frames:
        raise ValueError(f"{source} has only {len(out)} frames, fewer than the {frames} asked for")
    h, w = out[0].shape[:2]
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
           "-r", f"{info.fps:g}", "-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
           "-pix_fmt", "yuv420p", "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
           "-map_metadata", "-1", "-movflags", "+faststart", str(output)]
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in out), check=True,
                   capture_output=True)
    return output


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUTPUT)
    args = ap.parse_args()
    path = make_fake_clip(output=args.out, frames=args.frames, seed=args.seed)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
