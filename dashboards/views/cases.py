"""Cases page: the SQLite case log of every scan (fakescope.scan.caselog), searchable, each row linking to its report.

A row's link is this page with ``?case=ID``, which shows that case and its HTML report, so links
work from any browser that reaches the dashboard (a file path on the server would not).
Only report files that still exist and are HTML are read, and they are shown with scripts blocked.
File names in the log came from uploads and the ``case`` parameter from the address bar: both are
shown as plain text (``plain()``, ``st.text``, table cells), never as Markdown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.common import Settings, plain

VERDICTS = ("fake", "inconclusive", "real")
# Our reports need no scripts and load nothing (images are data URIs). The case log may name any
# HTML file, so a policy placed before its first byte stops scripts in a tampered one.
REPORT_CSP = ("<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "img-src data:; style-src 'unsafe-inline'\">")


def matches(case: Any, query: str) -> bool:
    """Case-insensitive match on file name, verdict or sha256 prefix."""
    q = query.strip().lower()
    return not q or q in case.file.lower() or case.verdict == q or case.sha256.startswith(q)


def report_of(case: Any) -> Path | None:
    if not case.report_path:
        return None
    p = Path(case.report_path)
    return p if p.suffix.lower() in (".html", ".htm") and p.is_file() else None


def locked_down(html: str) -> str:
    """The report with REPORT_CSP in front of everything it holds."""
    return REPORT_CSP + html


def show_case(case: Any) -> None:
    st.subheader(f"Case #{case.id}: {plain(case.file)}")
    st.markdown(f"Verdict **{plain(case.verdict.upper())}**, P(fake) {case.fake_probability:.3f}, "
                f"scanned {plain(case.scanned_at)}")
    st.text(f"File: {case.file}\nsha256: {case.sha256}")
    report = report_of(case)
    if report is None:
        st.info("No HTML report is stored for this case (scans run without --report keep none, "
                "or the file was moved).")
        return
    html = report.read_text(encoding="utf-8", errors="replace")
    st.download_button("Download this report", html, file_name=f"case-{case.id}.html", mime="text/html",
                       key=f"case_dl_{case.id}")
    st.iframe(locked_down(html), height=1400)


def render(settings: Settings) -> None:
    from fakescope.scan.caselog import list_cases

    st.title("Cases: every past scan")
    cases = list_cases(settings.cases_db)
    st.caption(f"{len(cases)} cases in {plain(settings.cases_db)}")
    wanted = st.query_params.get("case")
    if wanted is not None:
        hit = next((c for c in cases if str(c.id) == wanted), None)
        if hit is None:
            st.error(f"There is no case #{plain(wanted)} in this case log.")
        else:
            show_case(hit)
        if st.button("Back to all cases", key="case_back"):
            del st.query_params["case"]
            st.rerun()
        return
    c1, c2 = st.columns([3, 2])
    query = c1.text_input("Search file name, verdict or sha256", key="case_query")
    verdicts = c2.multiselect("Verdicts", VERDICTS, default=list(VERDICTS), key="case_verdicts")
    shown = [c for c in cases if c.verdict in verdicts and matches(c, query)]
    if not shown:
        st.info("No case matches." if cases else "No scans yet: scan a video on the Scan page or with `fakescope scan`.")
        return
    rows = [{"case": c.id, "scanned (UTC)": c.scanned_at, "file": c.file, "verdict": c.verdict,
             "P(fake)": round(c.fake_probability, 3), "sha256": c.sha256[:16],
             "report": f"cases?case={c.id}" if report_of(c) else None} for c in shown]
    st.dataframe(rows, hide_index=True, column_config={
        "report": st.column_config.LinkColumn("report", display_text="open report"),
        "P(fake)": st.column_config.NumberColumn(format="%.3f"),
    })
    ids = [c.id for c in shown]
    pick = st.selectbox("Open a case", ids, index=None, format_func=lambda i: f"#{i}", key="case_pick")
    if pick is not None:
        show_case(next(c for c in shown if c.id == pick))
