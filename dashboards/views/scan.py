"""Scan page: upload a video, watch the scan progress, read the verdict and its evidence.

Every number comes from fakescope.scan.pipeline.scan_video, the report and JSON are written by
fakescope.scan.batch as for `fakescope scan`, and every figure comes from fakescope.report.plots with
the arguments the HTML report uses, so the page shows what the CLI and the report show. The
result is kept in the session under the upload's id: clicking a download button reruns the
script but does not rescan. The upload's name is only ever shown as plain text (``plain()``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.common import (
    VIDEO_TYPES,
    Settings,
    UploadRejected,
    file_stem,
    plain,
    private_upload,
    scan_analyzers,
    scan_lock,
    workspace,
)

COLOURS = {"fake": "red", "real": "green", "inconclusive": "orange"}
_STATE = "scan_result"


@dataclass(frozen=True)
class ScanView:
    """What the page shows of one finished scan (all plain data: safe to keep in the session)."""

    upload_id: str
    record: dict[str, Any]
    report_html: str
    report_path: Path
    case_id: int
    figures: tuple[tuple[bytes, str], ...]  # (PNG, caption)
    key_frames: tuple[tuple[Any, str], ...]  # (BGR image, caption)


def reasons(record: dict[str, Any]) -> list[str]:
    """One plain-language Markdown line per analyzer, the ones that decided the verdict first (every
    text from the record goes through ``plain()``: analyzer messages can quote the file)."""
    from fakescope.report.scan_report import EXPLAIN, counted_analyzers, status_text

    rows = []
    counted = counted_analyzers(record)
    for name, a in record.get("analyzers", {}).items():
        ok = a.get("status") == "ok"
        counts = name in counted
        strength = abs(float(a.get("score", 0.5)) - 0.5) + (1.0 if counts else 0.0) if ok else -1.0
        score = (f"P(fake) {float(a.get('score', 0.5)):.2f}" + ("" if counts else ", not weighed by the fused verdict")
                 if ok else "no weight in the verdict")
        rows.append((strength, f"**{plain(name)}** ({plain(score)}): {plain(status_text(name, a))}. "
                               f"{plain(EXPLAIN.get(name, ''))}"))
    rows.sort(key=lambda r: -r[0])
    return [text for _, text in rows] + [f"**{plain(n)}**: not used, {plain(why)}"
                                         for n, why in record.get("skipped_analyzers", {}).items()]


def figures(record: dict[str, Any]) -> list[tuple[bytes, str]]:
    """The report's figures (fakescope.report.scan_report.evidence_figures: same plots and captions)."""
    from fakescope.report.scan_report import evidence_figures

    return [(png, caption) for png, _, caption in evidence_figures(record)]


def key_frame_images(result: Any) -> list[tuple[Any, str]]:
    out = []
    for k in result.key_frames:
        out.append((k.thumbnail, plain(f"{k.analyzer}: frame {k.frame_index}, score {k.score:.2f}. {k.caption}")))
        if k.overlay is not None:
            out.append((k.overlay, f"{k.analyzer} heatmap of frame {k.frame_index}: warm colours drove the score."))
    return out


def run_scan(upload: Any, settings: Settings) -> ScanView:
    """Scan one upload with progress; writes the report and JSON to the workspace and logs the case."""
    from fakescope.scan.batch import BatchOutputs, write_outputs
    from fakescope.scan.caselog import append_case
    from fakescope.scan.pipeline import ScanConfig, scan_video

    bar = st.progress(0.0, text="Waiting for the scanner...")

    def progress(done: int, total: int) -> None:
        frac = min(done / total, 1.0) if total else 0.0
        bar.progress(frac, text=f"Analysing frame {done} of {total or '?'}")

    config = ScanConfig(detector=settings.detector, progress=False)
    with private_upload(upload, settings.max_upload_bytes) as path, scan_lock():
        analyzers, skipped = scan_analyzers(config)
        result = scan_video(path, config, analyzers=analyzers, skipped=skipped, progress_callback=progress)
    bar.progress(1.0, text="Writing the report...")
    record = dict(result.record, file=upload.name)  # the user's name is shown, never used as a path
    result = replace(result, record=record)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    reports = workspace() / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    stem = f"{stamp}-{record['sha256'][:12]}"
    report_path = reports / f"{stem}.html"
    write_outputs([result], BatchOutputs(json_path=reports / f"{stem}.json", report_path=report_path))
    case_id = append_case(record, settings.cases_db, report_path)  # the case id is shown on the page
    bar.empty()
    return ScanView(upload.file_id, record, report_path.read_text(encoding="utf-8"), report_path, case_id,
                    tuple(figures(record)), tuple(key_frame_images(result)))


def verdict_card(record: dict[str, Any]) -> None:
    from fakescope.core.types import FAKE_THRESHOLD, REAL_THRESHOLD

    label = record["verdict"]
    with st.container(border=True):
        st.markdown(f"## Verdict: :{COLOURS[label]}[{plain(label.upper())}]")
        st.metric("Probability of manipulation, P(fake)", f"{record['fake_probability']:.3f}")
        st.caption(f"Labelled fake above {FAKE_THRESHOLD}, real below {REAL_THRESHOLD}, inconclusive in between "
                   "or when the evidence is insufficient. " + plain(record.get("reason") or ""))
        st.markdown("**Why**\n\n" + "\n".join(f"- {r}" for r in reasons(record)))


def credentials_panel(rec: dict[str, Any]) -> None:
    """Content Credentials as the HTML report shows them (same rows); every value is plain text."""
    from fakescope.report.scan_report import EXPLAIN, credentials_rows

    a = rec.get("analyzers", {}).get("credentials")
    if not a:
        return
    with st.expander("Content credentials (C2PA manifest and fakescope watermark)",
                     expanded=a.get("status") == "ok"):
        st.caption(plain(EXPLAIN.get("credentials", "")))
        st.table([{k: str(v) for k, v in row.items()} for row in credentials_rows(a)])
        if a.get("status") == "ok" and rec.get("selected_track") is None:
            st.text("No face was judged: the verdict rests on the file's content credentials.")


def show(view: ScanView) -> None:
    rec = view.record
    verdict_card(rec)
    stem = file_stem(rec["file"])
    st.text(f"File: {rec['file']}")  # the upload's name, exactly as given: plain text
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download the JSON verdict", json.dumps(rec, indent=2), file_name=f"{stem}.fakescope.json",
                       mime="application/json")
    c2.download_button("Download the HTML report", view.report_html, file_name=f"{stem}.fakescope.html",
                       mime="text/html")
    c3.caption(f"Case #{view.case_id} in the case log; report kept at {plain(view.report_path)}")
    credentials_panel(rec)
    for png, caption in view.figures:
        st.image(png, caption=caption)
    if view.key_frames:
        st.subheader("Key frames")
        cols = st.columns(min(4, len(view.key_frames)))
        for k, (img, caption) in enumerate(view.key_frames):
            cols[k % len(cols)].image(img, caption=caption, channels="BGR")
    v, f = rec["video"], rec["faces"]
    st.caption(f"{v['width']}x{v['height']}, {v['frames']} frames, {v['fps']:.2f} fps, {v['duration_s']:.1f} s; "
               f"{f['frames_with_face']} frames with a face in {f['tracks']} track(s); scanned in "
               f"{rec['timing']['seconds']:.1f} s. sha256 {plain(rec['sha256'])}")
    if len(rec.get("tracks", [])) > 1:
        from fakescope.report.scan_report import track_rows

        with st.expander(f"Every face ({len(rec['tracks'])} tracks; > marks the one the verdict rests on)"):
            st.dataframe([{k: str(v) for k, v in row.items()} for row in track_rows(rec)], hide_index=True)
    with st.expander("Verdict JSON"):
        st.json(rec, expanded=False)


def unusable_message(name: str, reason: str) -> str:
    """'clip.mp4 cannot be scanned: it is a text file, not a video. ...' from an UnusableInputError reason
    (plain text: show it through ``plain()``)."""
    verb = reason.split(" ", 1)[0]
    said = f"it {reason}" if verb in {"is", "has", "cannot", "contains", "reports"} else reason
    return f"{name} cannot be scanned: {said}. Upload a video file ({', '.join(VIDEO_TYPES)})."


def render(settings: Settings) -> None:
    from fakescope.core.errors import UnusableInputError

    st.title("fakescope: is this video manipulated?")
    st.write(f"Upload a video (up to {settings.max_upload_mb} MB). It is analysed on this server, kept only "
             "while it is scanned, and logged in the case log by its hash.")
    upload = st.file_uploader("Suspect video", type=VIDEO_TYPES, key="scan_upload",
                              max_upload_size=settings.max_upload_mb)  # the browser refuses larger files
    if upload is None:
        st.session_state.pop(_STATE, None)
        return
    view = st.session_state.get(_STATE)
    if view is None or view.upload_id != upload.file_id:
        st.session_state.pop(_STATE, None)
        try:
            view = run_scan(upload, settings)
        except UploadRejected as exc:
            st.error(plain(exc))
            return
        except UnusableInputError as exc:
            st.error(plain(unusable_message(upload.name, exc.reason)))
            return
        st.session_state[_STATE] = view
    show(view)
