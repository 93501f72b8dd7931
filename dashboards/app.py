"""Streamlit dashboard: upload a video, get the verdict and its evidence.

Thin by design: every number comes from fakescope.scan and every figure from fakescope.report,
so the dashboard can never disagree with the CLI. Uploads are size-limited, written under a
random name in a private temporary directory (the user's file name is never used as a path),
and only ever decoded as video, never executed or unpickled.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MAX_UPLOAD_MB = int(os.environ.get("FAKESCOPE_MAX_UPLOAD_MB", "500"))


def main() -> None:
    import streamlit as st

    from fakescope.caselog import append_case, list_cases
    from fakescope.errors import UnusableInputError
    from fakescope.report import write_scan_report
    from fakescope.scan import ScanConfig, scan_video

    st.set_page_config(page_title="fakescope", layout="wide")
    st.title("fakescope: is this video manipulated?")
    upload = st.file_uploader("Suspect video", type=["mp4", "mov", "avi", "mkv", "webm", "m4v"])
    if upload is not None:
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            st.error(f"File is {upload.size / 1e6:.0f} MB, above the {MAX_UPLOAD_MB} MB upload limit.")
            return
        with tempfile.TemporaryDirectory(prefix="fakescope-upload-") as tmp:
            suffix = Path(upload.name).suffix.lower() if Path(upload.name).suffix.isascii() else ".mp4"
            path = Path(tmp) / f"upload{suffix[:6]}"
            path.write_bytes(upload.getbuffer())
            with st.spinner("Analysing every frame..."):
                try:
                    result = scan_video(path, ScanConfig(progress=False))
                except UnusableInputError as exc:
                    st.error(f"{upload.name}: {exc.reason}")
                    return
            record = dict(result.record, file=upload.name)
            report = write_scan_report([result], Path(tmp) / "report.html")
            append_case(record)
            colour = {"fake": "red", "real": "green", "inconclusive": "orange"}[record["verdict"]]
            st.markdown(f"## Verdict: :{colour}[{record['verdict'].upper()}]  (P(fake) = {record['fake_probability']:.3f})")
            st.json(record, expanded=False)
            html = report.read_text()
            st.download_button("Download the HTML report", html, file_name="fakescope-report.html", mime="text/html")
            st.components.v1.html(html, height=1600, scrolling=True)
    with st.expander("Case log (latest 20 scans)"):
        st.table([{"time": c.scanned_at, "file": c.file, "verdict": c.verdict, "P(fake)": round(c.fake_probability, 3)}
                  for c in list_cases(limit=20)])


if __name__ == "__main__":
    main()
