"""The app shell and the Scan page, driven by Streamlit's AppTest (in-process, no browser)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import dashboards.app as app
from dashboards.common import UploadRejected, leftover_uploads, private_upload
from dashboards.config import env_max_upload_mb
from fakescope.scan.caselog import list_cases
from tests.dashboards.conftest import APP, FAKE_CLIP, TIMEOUT, rendered


class _Upload:
    """The part of Streamlit's UploadedFile that private_upload uses."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.size, self._data = name, len(data), data

    def getbuffer(self) -> memoryview:
        return memoryview(self._data)


def test_app_opens_on_the_scan_page_with_the_settings_sidebar(dash_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "manipulated" in at.title[0].value
    limit = at.sidebar.number_input(key="max_upload_mb")
    assert limit.value == 500 and limit.max == 500
    assert "default" in at.sidebar.selectbox(key="scan_detector").options
    assert at.file_uploader(key="scan_upload").allowed_type  # video types only


def test_upload_ceiling_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKESCOPE_MAX_UPLOAD_MB", "7")
    assert env_max_upload_mb() == 7 == app.env_max_upload_mb()
    for bad in ("0", "lots"):
        monkeypatch.setenv("FAKESCOPE_MAX_UPLOAD_MB", bad)
        with pytest.raises(ValueError, match="FAKESCOPE_MAX_UPLOAD_MB"):
            env_max_upload_mb()


def test_private_upload_uses_a_random_private_name_and_removes_it(dash_env: Path) -> None:
    up = _Upload("../../etc/evil name.MP4", b"\x00\x00\x00\x18ftypmp42" + b"\0" * 100)
    with private_upload(up, 1024) as path:
        assert path.read_bytes() == bytes(up.getbuffer())
        assert "evil" not in str(path) and ".." not in path.name and path.suffix == ".mp4"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        kept = path.parent
    assert not kept.exists()
    with pytest.raises(RuntimeError), private_upload(_Upload("x.exe", b"data"), 1024) as path:
        assert path.suffix == ".bin"  # unexpected suffixes never reach the file system
        kept = path.parent
        raise RuntimeError("scan failed")
    assert not kept.exists()


def test_oversized_upload_is_refused_before_anything_is_written(dash_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def no_temp(*a: object, **k: object) -> str:
        raise AssertionError("an oversized upload must not be written")

    monkeypatch.setattr(tempfile, "mkdtemp", no_temp)
    with pytest.raises(UploadRejected, match=r"2\.0 MB, above the 1 MB upload limit"), \
            private_upload(_Upload("big.mp4", b"x" * (2 * 2**20)), 2**20):
        pass


@pytest.mark.slow
def test_bad_uploads_show_clear_errors_and_the_next_upload_is_scanned(dash_env: Path) -> None:
    """Text renamed .mp4, then a file over the sidebar limit, then the bundled fake clip: each
    error is plain, and the app keeps working. The scan leaves no upload behind and logs a case."""
    before = set(leftover_uploads())
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    uploader = at.file_uploader(key="scan_upload")

    uploader.set_value(("notes.mp4", b"these are my notes, not a video\n" * 20, "video/mp4")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "notes.mp4 cannot be scanned: it is a text file, not a video" in rendered(at.error[0].value)

    at.sidebar.number_input(key="max_upload_mb").set_value(1).run()
    at.file_uploader(key="scan_upload").set_value(("huge.mp4", b"\0" * (3 * 2**20), "video/mp4")).run()
    assert not at.exception
    assert len(at.error) == 1 and "huge.mp4 is 3.0 MB, above the 1 MB upload limit" in rendered(at.error[0].value)

    at.file_uploader(key="scan_upload").set_value(("suspect.mp4", FAKE_CLIP.read_bytes(), "video/mp4")).run()
    assert not at.exception and not at.error
    verdict = next(m.value for m in at.markdown if m.value.startswith("## Verdict:"))
    label = verdict.split("[")[1].split("]")[0].lower()
    assert label in ("fake", "real", "inconclusive")
    p_fake = float(at.metric[0].value)
    assert 0.0 <= p_fake <= 1.0
    why = next(m.value for m in at.markdown if m.value.startswith("**Why**"))
    assert "**detector**" in why and "**edges**" in why
    assert [b.label for b in at.download_button] == ["Download the JSON verdict", "Download the HTML report"]
    assert [t.value for t in at.text] == ["File: suspect.mp4"]  # the upload's name, as plain text
    assert len(at.image) >= 2  # per-frame timeline and at least one key frame

    assert set(leftover_uploads()) == before  # the upload was deleted after the scan
    cases = list_cases(dash_env.parent / "cases.db")
    assert len(cases) == 1 and cases[0].file == "suspect.mp4" and cases[0].verdict == label
    assert abs(cases[0].fake_probability - p_fake) < 5e-4
    report = Path(cases[0].report_path or "")
    assert report.parent == dash_env / "reports" and report.is_file()
    assert "suspect.mp4" in report.read_text() and report.with_suffix(".json").is_file()

    at.run()  # any rerun (e.g. a download click) shows the kept result instead of scanning again
    assert not at.exception and len(list_cases(dash_env.parent / "cases.db")) == 1
    assert any(m.value.startswith("## Verdict:") for m in at.markdown)


@pytest.mark.slow
def test_dashboard_shows_what_scan_video_computes(dash_env: Path) -> None:
    """Same numbers as the CLI's scan: the page is a view, not a second analysis; and the progress
    callback sees every frame."""
    from fakescope.scan.pipeline import ScanConfig, scan_video

    calls: list[tuple[int, int]] = []
    direct = scan_video(FAKE_CLIP, ScanConfig(progress=False), progress_callback=lambda d, t: calls.append((d, t)))
    frames = direct.record["video"]["frames"]
    assert calls[-1] == (frames, frames) and len(calls) >= frames // 10
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.file_uploader(key="scan_upload").set_value(("clip.mp4", FAKE_CLIP.read_bytes(), "video/mp4")).run()
    assert not at.exception
    assert at.metric[0].value == f"{direct.record['fake_probability']:.3f}"
    assert f"[{direct.record['verdict'].upper()}]" in next(m.value for m in at.markdown if "Verdict:" in m.value)
    assert direct.record["skipped_analyzers"] == list_json(at)["skipped_analyzers"]
    shown = " ".join(tb.value.to_string() for tb in at.table)  # the Content Credentials panel, as in the report
    assert "C2PA manifest" in shown and "none found" in shown and "not found" in shown


def list_json(at: AppTest) -> dict:
    import json

    return json.loads(at.json[0].proto.body)


def test_detector_weights_are_read_once_and_analyzers_match_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import detector.io
    from dashboards.common import cached_detector, scan_analyzers
    from fakescope.scan.analyzers import build_analyzers
    from fakescope.scan.pipeline import ScanConfig

    cached_detector.clear()
    real = detector.io.load_model
    calls: list[str] = []
    monkeypatch.setattr(detector.io, "load_model",
                        lambda name="default", **kw: calls.append(str(name)) or real(name, **kw))
    cfg = ScanConfig(progress=False)
    first, skipped = scan_analyzers(cfg)
    second, _ = scan_analyzers(cfg)
    assert calls == ["default"]  # one read of the weights for any number of scans
    assert first[0].model is second[0].model and first[0] is not second[0]  # fresh per-scan state
    cli, cli_skipped = build_analyzers(cfg)
    assert [a.name for a in first] == [a.name for a in cli] and skipped == cli_skipped
    cached_detector.clear()
