"""What every dashboard page shares: settings, safe handling of uploads, models loaded once.

Uploads are the dashboard's attack surface, so they are handled in one place: the size limit is
checked before a byte is written (Streamlit's own ``server.maxUploadSize``, set by ``fakescope
dashboard``, already cut off anything above the server's ceiling while it streamed in), the bytes go to a random name inside a private (0700)
temporary directory (the user's file name is never part of a path, only shown as text), and the
directory is removed when the work is done, whether it succeeded or not.

Server paths come only from allow-listed roots (``search_roots()``: the workspace and
$FAKESCOPE_DATA_DIR): pages offer folders found there, and ``inside_roots()`` re-checks any path
before a page reads it, after resolving symbolic links. Text that came from a visitor or a file
(upload names, CSV cells, error messages) is shown with ``st.text`` or passed through ``plain()``,
so it can never become a link, an image or formatting.

Models are loaded once per server with ``st.cache_resource`` and shared by all sessions. Scans
hold ``scan_lock()`` because Grad-CAM hooks into the shared detector while it explains key
frames; on a small machine one scan at a time is also the fastest way through a queue.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.config import env_max_upload_mb, workspace
from fakescope.core.video import VIDEO_SUFFIXES
from fakescope.scan.caselog import default_db_path

UPLOAD_PREFIX = "fakescope-upload-"
VIDEO_TYPES = sorted(s.lstrip(".") for s in VIDEO_SUFFIXES)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# every ASCII punctuation mark: CommonMark lets a backslash make any of them literal
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
WORD_JOINER = "\u2060"
_LINK_START = re.compile(r"(?i)www(?=\.)|https?(?=:)|mailto(?=:)|xmpp(?=:)|(?=@)")
MODEL_FILE = "model.safetensors"  # what `fakescope detector train` writes in a model folder


def plain(text: object) -> str:
    """``text`` made safe to put in a Markdown string (st.markdown, st.error, st.caption, captions...):
    every punctuation mark is backslash-escaped and line breaks become spaces, so a name like
    ``[x](http://evil)<img src=x>`` shows as those characters, never as a link, an image, HTML,
    formatting, a colour directive or LaTeX.

    Streamlit's renderer still turns bare ``www.x``, ``http://x`` and ``a@x.y`` in escaped text into
    links (GitHub's autolink rule runs on the text), so an invisible WORD JOINER (U+2060) is put
    after ``www``/``http``/``https``/``mailto``/``xmpp`` and before ``@`` there, which they no longer match."""
    text = _LINK_START.sub(lambda m: m.group(0) + WORD_JOINER, _CONTROL.sub(" ", str(text)))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def file_stem(name: str, fallback: str = "video") -> str:
    """A download file name's stem from an upload's name: letters, digits, '.', '-', '_' only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._")[:80]
    return stem or fallback


@dataclass(frozen=True)
class Settings:
    max_upload_mb: int
    workspace: Path
    cases_db: Path
    detector: str

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def shipped_detectors() -> list[str]:
    """Names of shipped trained models, as ``fakescope detector list`` shows them."""
    from fakescope.scan.models import shipped_detectors as names

    return names()


def sidebar_settings() -> Settings:
    """Sidebar controls shared by all pages; the upload limit can be lowered, never raised past the env."""
    ceiling = env_max_upload_mb()
    with st.sidebar:
        st.subheader("Settings")
        limit = st.number_input("Upload limit (MB)", min_value=1, max_value=ceiling, value=ceiling, step=1,
                                key="max_upload_mb",
                                help=f"At most {ceiling} MB (set FAKESCOPE_MAX_UPLOAD_MB to change the ceiling).")
        detectors = shipped_detectors() or ["default"]
        detector = st.selectbox("Detector for scans", detectors, key="scan_detector")
        st.caption(f"Case log: {plain(default_db_path())}")
    # only a shipped name reaches the loader, whatever the browser sent
    return Settings(int(limit), workspace(), default_db_path(), str(detector) if detector in detectors else detectors[0])


# ----------------------------------------------------------------------------- uploads


class UploadRejected(ValueError):
    """An upload the dashboard will not process; ``str()`` is the message shown to the user."""


def check_upload_size(name: str, size: int, limit_bytes: int) -> None:
    if size <= 0:
        raise UploadRejected(f"{name}: the file is empty.")
    if size > limit_bytes:
        raise UploadRejected(f"{name} is {size / 2**20:.1f} MB, above the {limit_bytes / 2**20:.0f} MB upload limit. "
                             "Trim or re-encode the video, or raise the limit in the sidebar "
                             "(the ceiling is FAKESCOPE_MAX_UPLOAD_MB).")


def safe_suffix(name: str, allowed: frozenset[str] | set[str]) -> str:
    """The upload's suffix if it is one we expect, else ``.bin``: enough for decoders, never a path part."""
    suffix = Path(name).suffix.lower()
    return suffix if suffix in allowed else ".bin"


@contextmanager
def private_upload(upload: Any, limit_bytes: int, allowed: frozenset[str] = VIDEO_SUFFIXES) -> Iterator[Path]:
    """Write an uploaded file to a random name in a new private temp dir; remove it all on exit.

    ``upload`` is a Streamlit ``UploadedFile`` (anything with ``name``, ``size`` and
    ``getbuffer()``). Raises UploadRejected before writing anything when it is too large.
    """
    check_upload_size(upload.name, int(upload.size), limit_bytes)
    tmp = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))  # mode 0700
    try:
        path = tmp / (secrets.token_hex(12) + safe_suffix(upload.name, allowed))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.getbuffer())
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def leftover_uploads() -> list[Path]:
    """Upload directories still present in the temp dir (tests check that scans leave none)."""
    return sorted(Path(tempfile.gettempdir()).glob(UPLOAD_PREFIX + "*"))


# ----------------------------------------------------------------------------- resources


@st.cache_resource(show_spinner="Loading the detector...")
def cached_detector(name: str) -> Any:
    """The detector's weights, read once per server (safetensors only)."""
    from fakescope.scan.models import load_detector

    return load_detector(name)


@st.cache_resource
def scan_lock() -> Any:
    import threading

    return threading.Lock()


@st.cache_resource(show_spinner="Loading the face-swap model...")
def cached_swap_engine(run_dir: str, checkpoint: str) -> Any:
    """A generator run's newest checkpoint; ``checkpoint`` (its folder) is part of the key so a run
    that went on training is reloaded."""
    from generator.render import SwapEngine

    return SwapEngine(Path(run_dir))


def swap_engine(run_dir: Path) -> Any:
    from fakescope.core.checkpoint import latest_checkpoint_dir

    run_dir = inside_roots(run_dir)
    ckpt = latest_checkpoint_dir(run_dir)
    if ckpt is None:
        raise ValueError(f"{run_dir} has no checkpoint; train it first with `fakescope swap train --out {run_dir}`")
    return cached_swap_engine(str(run_dir.resolve()), ckpt.name)


def scan_analyzers(config: Any) -> tuple[list[Any], dict[str, str]]:
    """The scan's analyzers as the CLI builds them, with the detector model from the server's cache."""
    from fakescope.scan.analyzers import ANALYZER_FACTORIES, build_analyzers

    names = list(config.analyzers) if config.analyzers else list(ANALYZER_FACTORIES)
    try:
        model = cached_detector(config.detector) if "detector" in names else None
    except ValueError as exc:
        analyzers, skipped = build_analyzers(config, [n for n in names if n != "detector"])
        return analyzers, {**skipped, "detector": f"detector {config.detector!r} unavailable: {exc}"}
    return build_analyzers(config, names, detector_model=model)


# ----------------------------------------------------------------------------- files we make


def new_output_dir(kind: str, name: str | None = None) -> Path:
    """A fresh folder under the workspace: ``kind/NAME`` (validated) or ``kind/<UTC time>-<random>``."""
    if name is not None and not _SAFE_NAME.match(name):
        raise ValueError(f"{name!r} is not a usable folder name: use letters, digits, '-' and '_' (at most 64)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    d = workspace() / kind / (name or f"{stamp}-{secrets.token_hex(3)}")
    d.parent.mkdir(parents=True, exist_ok=True)
    try:
        d.mkdir()  # never reuse a folder: a second build into it would mix two test sets in one manifest
    except FileExistsError:
        raise ValueError(f"{kind}/{d.name} already exists: pick another name") from None
    return d


def find_dirs_with(file_name: str, roots: list[Path], depth: int = 3) -> list[Path]:
    """Folders below ``roots`` (at most ``depth`` levels) that hold ``file_name``: test sets, runs."""
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for level in range(depth + 1):
            for f in root.glob("/".join(["*"] * level + [file_name])):
                if f.is_file():
                    found.add(f.parent.resolve())
    return sorted(found)


def search_roots() -> list[Path]:
    """Where pages look for test sets and generator runs: the workspace and $FAKESCOPE_DATA_DIR."""
    roots = [workspace()]
    if env := os.environ.get("FAKESCOPE_DATA_DIR"):
        roots.append(Path(env))
    return roots


class PathRefused(ValueError):
    """A server path outside the folders the dashboard may read; ``str()`` says so to the user."""


def inside_roots(path: str | Path, roots: list[Path] | None = None) -> Path:
    """``path`` resolved (symbolic links and ``..`` followed), if that lies in one of ``roots``
    (default: ``search_roots()``); else PathRefused. Pages call it on every server path they read."""
    roots = search_roots() if roots is None else roots
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        resolved = None
    if resolved is not None:
        for root in roots:
            try:
                base = root.resolve()
            except (OSError, RuntimeError):
                continue
            if resolved.is_relative_to(base):
                return resolved
    raise PathRefused(f"{path} is outside the folders this dashboard may read (its workspace and "
                      "$FAKESCOPE_DATA_DIR); put the files there and pick them from the list")


def allowed_dirs_with(file_name: str, depth: int = 3) -> list[Path]:
    """``find_dirs_with`` below ``search_roots()``, keeping only folders that resolve inside them."""
    roots = search_roots()
    out = []
    for d in find_dirs_with(file_name, roots, depth):
        try:
            out.append(inside_roots(d, roots))
        except PathRefused:
            continue
    return out


def video_dirs(depth: int = 3) -> list[Path]:
    """Folders inside the roots (the roots too, at most ``depth`` levels down) that hold a video file."""
    roots = search_roots()
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for level in range(depth + 1):
            for f in root.glob("/".join(["*"] * (level + 1))):
                if f.suffix.lower() in VIDEO_SUFFIXES and f.parent not in found and f.is_file():
                    found.add(f.parent)
    out = set()
    for d in found:
        try:
            out.add(inside_roots(d, roots))
        except PathRefused:
            continue
    return sorted(out)


def data_folders() -> list[Path]:
    """The existing roots and every folder of videos in them: bases for an uploaded CSV's relative paths."""
    roots = [r.resolve() for r in search_roots() if r.is_dir()]
    return list(dict.fromkeys(roots + video_dirs()))


def lines(text: str) -> list[str]:
    return [s.strip() for s in text.splitlines() if s.strip()]
