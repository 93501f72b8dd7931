"""Generate page: build an adversarial test set, or preview a trained face swap on a video.

Test sets are built by generator.testset.build_testset (the code behind ``fakescope testset
build``) into the workspace, in a worker thread so the page can show progress: the builder marks
each finished item with a sidecar JSON, and the page counts them. Swap previews run the trained
run's SwapEngine (loaded once per server) on a few evenly spaced frames of an uploaded video;
the whole video can be rendered with generator.render.render_swap.

Real videos and generator runs are picked from folders found in the workspace and
$FAKESCOPE_DATA_DIR, never typed in; every path is checked again (``inside_roots``) before it is read.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.common import (
    VIDEO_TYPES,
    Settings,
    UploadRejected,
    allowed_dirs_with,
    file_stem,
    inside_roots,
    new_output_dir,
    plain,
    private_upload,
    swap_engine,
    video_dirs,
)

FAKE_METHODS = ("self_blend", "warp", "ae_swap", "ae_gan_swap")
_TESTSET = "generate_testset"
_PREVIEW = "generate_preview"


def build_with_progress(real: list[Path], out_dir: Path, config: Any) -> Path:
    """build_testset in a worker thread; the bar counts finished items (their sidecar JSONs).

    ``real`` and ``config.runs`` must resolve inside the roots: PathRefused before anything is read."""
    from generator.testset import MethodBank, build_testset, find_videos

    real = [inside_roots(p) for p in real]
    for run_dir in config.runs:
        inside_roots(run_dir)
    videos = [v for v in find_videos(real) if _inside(v)]  # a folder's symbolic links may lead out
    if not videos:
        raise ValueError("no real videos found in the paths given")
    total = len(videos) * config.segments_per_video * (1 + len(MethodBank(config).available()))
    bar = st.progress(0.0, text="Reading the real videos...")
    items = out_dir / "items"
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(build_testset, videos, out_dir, config, False)
        while not future.done():
            n = len(list(items.glob("*.json"))) if items.is_dir() else 0
            bar.progress(min(n / total, 1.0), text=f"{n} of at most {total} items written")
            time.sleep(0.25)
        manifest = future.result()
    bar.empty()
    return manifest


def _inside(path: Path) -> bool:
    try:
        inside_roots(path)
    except ValueError:
        return False
    return True


def testset_tab() -> None:
    from fakescope.core.manifest import read_manifest
    from generator.testset import TestsetConfig

    st.write("Cuts short segments from real videos and writes, for each, the real clip and one fake per method, "
             "each through a random perturbation chain (`fakescope testset build`).")
    folders = [str(p) for p in video_dirs()]
    real = st.multiselect("Folders of real videos (in the workspace and $FAKESCOPE_DATA_DIR)", folders,
                          key="ts_real", placeholder="folders with videos" if folders else
                          "none found: put real videos in $FAKESCOPE_DATA_DIR")
    name = st.text_input("Name of the new test set (folder in the workspace)", key="ts_name",
                         placeholder="leave empty for a time-stamped name")
    c1, c2, c3 = st.columns(3)
    seed = int(c1.number_input("Seed", min_value=0, value=0, key="ts_seed"))
    segments = int(c2.number_input("Segments per video", min_value=1, max_value=20, value=3, key="ts_segments"))
    frames = int(c3.number_input("Frames per item", min_value=4, max_value=600, value=48, key="ts_frames"))
    methods = st.multiselect("Fake methods", FAKE_METHODS, default=["self_blend", "warp"], key="ts_methods",
                             help="ae_swap / ae_gan_swap need a generator run below.")
    runs = st.multiselect("Generator runs for the swap methods", [str(p) for p in allowed_dirs_with("run.json")],
                          key="ts_runs")
    if st.button("Build the test set", type="primary", key="ts_build"):
        st.session_state.pop(_TESTSET, None)
        try:
            paths = [Path(p) for p in real]
            if not paths:
                raise ValueError("pick at least one folder of real videos")
            if not methods:
                raise ValueError("pick at least one fake method")
            cfg = TestsetConfig(seed=seed, segments_per_video=segments, clip_frames=frames, methods=tuple(methods),
                                runs=tuple(str(inside_roots(r)) for r in runs))
            out = new_output_dir("testsets", name.strip() or None)
            manifest = build_with_progress(paths, out, cfg)
            st.session_state[_TESTSET] = (manifest, read_manifest(manifest))
        except (ValueError, RuntimeError, OSError) as exc:
            st.error(plain(f"The test set could not be built: {exc}"))
    if (built := st.session_state.get(_TESTSET)) is not None:
        manifest, rows = built
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["method"]] = counts.get(r["method"], 0) + 1
        st.success(plain(f"{len(rows)} items written to {manifest.parent} ("
                         + ", ".join(f"{m}: {n}" for m, n in sorted(counts.items()))
                         + "). Audit it on the Audit page."))
        st.dataframe([{k: r[k] for k in ("path", "label", "method", "identity", "split", "params")} for r in rows],
                     hide_index=True)


def preview_frames(engine: Any, video: Path, to: str, n: int) -> list[tuple[int, Any, Any]]:
    """(frame index, original, swapped) for ``n`` evenly spaced frames that show a face."""
    import numpy as np

    from fakescope.core.faces import FacePipeline
    from fakescope.core.video import probe

    info = probe(video)
    total = max(info.frames, 1)
    wanted = {int(i) for i in np.linspace(0, total - 1, n)}
    last = max(wanted)
    bar = st.progress(0.0, text="Finding faces...")
    out = []
    for index, _ts, frame, faces in FacePipeline().run(video, info):
        if index in wanted and faces:
            face = max(faces, key=lambda f: f.size)
            out.append((index, frame, engine.swap_frame(frame, face.landmarks, to)[0]))
        bar.progress(min((index + 1) / (last + 1), 1.0), text=f"Frame {index + 1} of {last + 1}")
        if index >= last:
            break
    bar.empty()
    return out


def swap_tab(settings: Settings) -> None:
    from generator.render import RenderOptions, render_swap

    st.write("Shows what a trained face-swap run makes of a video: a few frames side by side, or the whole "
             "video (`fakescope swap render`).")
    found = [str(p) for p in allowed_dirs_with("run.json")]
    picked = st.selectbox("Generator run", found, index=None, key="sw_run",
                          placeholder="runs found in the workspace and $FAKESCOPE_DATA_DIR")
    if not picked:
        st.info("Train a run with `fakescope swap train --out RUN_DIR` with RUN_DIR in the workspace or "
                "$FAKESCOPE_DATA_DIR, then pick it here.")
        return
    try:
        run_dir = inside_roots(picked)
        engine = swap_engine(run_dir)
    except (ValueError, OSError, KeyError) as exc:  # PathRefused is a ValueError
        st.error(plain(f"{picked} cannot be used: {exc}"))
        return
    to = st.selectbox("Swap the face to", engine.identities, key="sw_to")
    upload = st.file_uploader("Video to swap", type=VIDEO_TYPES, key="sw_upload",
                              max_upload_size=settings.max_upload_mb)
    n = int(st.slider("Frames to preview", min_value=1, max_value=8, value=4, key="sw_n"))
    whole = st.checkbox("Also render the whole video", key="sw_whole")
    if st.button("Render the preview", type="primary", key="sw_go", disabled=upload is None):
        st.session_state.pop(_PREVIEW, None)
        from fakescope.core.errors import UnusableInputError

        try:
            with private_upload(upload, settings.max_upload_bytes) as path:
                frames = preview_frames(engine, path, to, n)
                video = None
                if whole:
                    with st.spinner("Rendering every frame..."):
                        res = render_swap(run_dir, path, to, path.with_name("swapped.mp4"), RenderOptions(),
                                          progress=False)
                        video = (res.output.read_bytes(), f"{res.frames_swapped} of {res.frames} frames swapped "
                                                          f"at {res.frames_per_second:.1f} frames/s")
            st.session_state[_PREVIEW] = (upload.name, to, frames, video)
        except UploadRejected as exc:
            st.error(plain(exc))
        except UnusableInputError as exc:
            st.error(plain(f"{upload.name} cannot be used: {exc.reason}."))
        except (ValueError, RuntimeError) as exc:
            st.error(plain(f"The preview failed: {exc}"))
    if (prev := st.session_state.get(_PREVIEW)) is not None:
        name, target, frames, video = prev
        if not frames:
            st.warning(plain(f"No face was found in the previewed frames of {name}."))
        for index, before, after in frames:
            c1, c2 = st.columns(2)
            c1.image(before, caption=f"frame {index}, original", channels="BGR")
            c2.image(after, caption=plain(f"frame {index}, swapped to {target}"), channels="BGR")
        if video is not None:
            data, caption = video
            st.video(data)
            st.caption(caption)
            st.download_button("Download the swapped video", data,
                               file_name=f"swapped-to-{file_stem(target, 'face')}.mp4", mime="video/mp4")


def render(settings: Settings) -> None:
    st.title("Generate: test sets and face swaps")
    t1, t2 = st.tabs(["Build a test set", "Swap preview"])
    with t1:
        testset_tab()
    with t2:
        swap_tab(settings)
