"""Streamlit dashboard (``fakescope dashboard``): Scan, Audit, Generate and Cases pages.

Thin by design: the pages call fakescope, generator and detector functions and only lay out what
they return, so the dashboard can never disagree with the CLI. Shared pieces (settings, upload
handling, models loaded once) live in dashboards.common; one module per page in dashboards.views.
Importing this module is cheap: streamlit and the pages are imported inside main(). The CLI never
imports it; `fakescope dashboard` hands its path to `streamlit run`.

Environment: FAKESCOPE_MAX_UPLOAD_MB (upload ceiling, default 500; the sidebar can lower it),
FAKESCOPE_DASHBOARD_DIR (where reports, audits and test sets are written; default beside the
case log), FAKESCOPE_CASES_DB (the case log, as for the CLI), FAKESCOPE_DATA_DIR (another folder
searched for test sets and generator runs).
"""

from __future__ import annotations

from dashboards.config import env_max_upload_mb

__all__ = ["env_max_upload_mb", "main"]


def main() -> None:
    import streamlit as st

    from dashboards.common import sidebar_settings
    from dashboards.views import audit, cases, generate, scan

    st.set_page_config(page_title="fakescope", layout="wide")
    settings = sidebar_settings()

    def scan_page() -> None:
        scan.render(settings)

    def audit_page() -> None:
        audit.render(settings)

    def generate_page() -> None:
        generate.render(settings)

    def cases_page() -> None:
        cases.render(settings)

    pages = [
        st.Page(scan_page, title="Scan", url_path="scan", default=True),
        st.Page(audit_page, title="Audit", url_path="audit"),
        st.Page(generate_page, title="Generate", url_path="generate"),
        st.Page(cases_page, title="Cases", url_path="cases"),
    ]
    st.navigation(pages).run()


if __name__ == "__main__":
    main()
