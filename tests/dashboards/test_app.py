from pathlib import Path

import dashboards.app as app


def test_dashboard_renders_without_errors() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(app.__file__)), default_timeout=60).run()
    assert not at.exception
    assert "manipulated" in at.title[0].value


def test_upload_limit_is_configured() -> None:
    assert app.MAX_UPLOAD_MB > 0
