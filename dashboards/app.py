"""Streamlit dashboard (``fakescope dashboard``): Scan, Audit, Generate and Cases pages.

Thin by design: the pages call fakescope, generator and detector functions and only lay out what
they return, so the dashboard can never disagree with the CLI. Shared pieces (settings, upload
handling, models loaded once) live in dashboards.common; one module per page in dashboards.views.
Importing this module is cheap: streamlit and the pages are imported inside main(). The CLI never
imports it; `fakescope dashboard` hands its path to `streamlit run`.

Environment: FAKESCOPE_MAX_UPLOAD_MB (upload ceiling, default 500; the sidebar can lower it),
FAKESCOPE_DASHBOARD_DIR (where reports, audits and test sets are written; default beside the
case log), FAKESCOPE_CASES_DB (the case log, as for the CLI), FAKESCOPE_DATA_DIR (another folder
searched for test sets and generator runs), FAKESCOPE_DASHBOARD_TOKEN (when set, a password every
visitor must type before any page shows; `fakescope dashboard --host` requires it).

Every page is drawn inside dashboards.guard: behind the password when there is one, and with
errors shown as a short message and an error id (the traceback goes to the server's log).
"""

from __future__ import annotations

from typing import Any

from dashboards.config import env_max_upload_mb

__all__ = ["env_max_upload_mb", "main"]


def main() -> None:
    import streamlit as st

    from dashboards.common import Settings, sidebar_settings
    from dashboards.guard import is_unlocked, lock_button, login, run_guarded
    from dashboards.views import audit, cases, generate, scan

    st.set_page_config(page_title="fakescope", layout="wide")
    views = {"Scan": scan, "Audit": audit, "Generate": generate, "Cases": cases}
    if not is_unlocked():
        # every page address shows the password prompt and nothing else (no page list, no settings);
        # once unlocked, the rerun shows the page that was asked for
        st.navigation([st.Page(login, title=title, url_path=title.lower(), default=title == "Scan")
                       for title in views], position="hidden").run()
        return
    got: list[Settings] = []
    if not run_guarded("settings", lambda: got.append(sidebar_settings())):
        return
    settings = got[0]
    lock_button()

    def page(title: str, view: Any) -> Any:
        def draw() -> None:
            run_guarded(title, lambda: view.render(settings))

        return st.Page(draw, title=title, url_path=title.lower(), default=title == "Scan")

    st.navigation([page(title, view) for title, view in views.items()]).run()


if __name__ == "__main__":
    main()
