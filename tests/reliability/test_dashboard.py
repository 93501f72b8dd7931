"""The dashboard is private by default: loopback bind, a password off loopback, no server paths
typed in, visitor text shown as text, no tracebacks in the browser.

The command line is checked without starting a server (``streamlit_command`` is pure and
``subprocess.call`` is replaced); the app and pages run in-process with Streamlit's AppTest.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fakescope.cli import build_parser, main
from fakescope.cli.dashboard import LOOPBACK_HOSTS, TOKEN_ENV, is_loopback, streamlit_command
from fakescope.scan.caselog import append_case
from tests.dashboards.conftest import APP, REAL_CLIP, TIMEOUT, page_test, rendered
from tests.dashboards.conftest import dash_env as dash_env  # the fixture: workspace and case log in tmp_path

TOKEN = "correct-horse-battery-staple-42"
EVIL = "[x](http://evil)<img src=x>.mp4"


def _cli(argv: list[str]) -> int:
    """fakescope's exit status (argparse's own errors exit through SystemExit, also with status 2)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _option(cmd: list[str], name: str) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd[:-1]) if a == name]


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands `fakescope dashboard` would have run (none is started)."""
    import subprocess

    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, *a, **k: calls.append(list(cmd)) or 0)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv("FAKESCOPE_MAX_UPLOAD_MB", raising=False)
    return calls


@pytest.fixture
def no_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    def refuse(*a: object, **k: object) -> int:
        raise AssertionError("the dashboard must not start")

    monkeypatch.setattr(subprocess, "call", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


# ----------------------------------------------------------------------------- the command line


def test_default_bind_is_loopback_only(launched: list[list[str]]) -> None:
    args = build_parser().parse_args(["dashboard"])
    assert args.host == "127.0.0.1" and args.port == 8501
    assert main(["dashboard"]) == 0
    (cmd,) = launched
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith(os.path.join("dashboards", "app.py"))
    assert _option(cmd, "--server.address") == ["127.0.0.1"] and _option(cmd, "--server.port") == ["8501"]
    assert _option(cmd, "--server.allowedHosts") == list(LOOPBACK_HOSTS)  # DNS rebinding cannot reach it


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "dashboard.example.org", "127.0.0.2"])
def test_other_hosts_without_a_token_exit_2_and_start_nothing(
        host: str, no_launch: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--host", host]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fakescope: error: ")
    assert TOKEN_ENV in err and "at least 16 characters" in err


@pytest.mark.parametrize("argv", [["--port", "0"], ["--port", "65536"], ["--host", ""], ["--host=-x"],
                                  ["--host", "0.0.0.0 --server.address=1"]])
def test_bad_ports_and_hosts_exit_2_with_one_line(argv: list[str], no_launch: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["dashboard", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fakescope: error: ")


def test_a_short_token_is_refused_without_being_repeated(no_launch: None, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(TOKEN_ENV, "hunter2-short")
    for argv in (["dashboard"], ["dashboard", "--host", "0.0.0.0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "at least 16 characters" in err and "hunter2" not in err


def test_with_a_token_other_hosts_are_served_and_the_token_stays_off_the_command_line(
        launched: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert main(["dashboard", "--host", "0.0.0.0", "--port", "9000"]) == 0
    (cmd,) = launched
    assert _option(cmd, "--server.address") == ["0.0.0.0"] and _option(cmd, "--server.port") == ["9000"]
    assert not any(TOKEN in a for a in cmd)  # it reaches the app through the environment only (ps shows argv)


def test_streamlit_hides_errors_and_refuses_big_uploads_itself() -> None:
    from streamlit import config

    cmd = streamlit_command("127.0.0.1", 8501, {}, max_upload_mb=37, app="app.py")
    assert _option(cmd, "--client.showErrorDetails") == ["none"]  # "false" would still show "stacktrace"
    assert _option(cmd, "--server.maxUploadSize") == ["37"]  # cut off while streaming, before buffering
    assert _option(cmd, "--server.enableXsrfProtection") == ["true"] and _option(cmd, "--server.enableCORS") == ["true"]
    assert _option(cmd, "--browser.gatherUsageStats") == ["false"]
    known = set(config._config_options_template)  # every option passed exists in the installed Streamlit
    assert {a[2:] for a in cmd if a.startswith("--")} <= known


def test_the_upload_ceiling_comes_from_the_environment(launched: list[list[str]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKESCOPE_MAX_UPLOAD_MB", "12")
    assert main(["dashboard"]) == 0
    assert _option(launched[0], "--server.maxUploadSize") == ["12"]


def test_loopback_names() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "127.0.0.2", "localhost.evil.com", ""))


def test_the_app_and_the_cli_read_the_same_token_variable() -> None:
    from dashboards import guard
    from fakescope.cli import dashboard

    assert guard.TOKEN_ENV == dashboard.TOKEN_ENV and guard.MIN_TOKEN_CHARS == dashboard.MIN_TOKEN_CHARS


# ----------------------------------------------------------------------------- password gate


def test_without_a_token_there_is_no_prompt(dash_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.text_input and "manipulated" in at.title[0].value


def test_with_a_token_every_page_waits_behind_the_password(dash_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboards import guard

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setattr(guard, "FAILED_LOGIN_DELAY_S", 0.0)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    from streamlit.proto.TextInput_pb2 import TextInput

    assert at.text_input(key="login_password").proto.type == TextInput.PASSWORD  # typed characters are masked
    # locked: no page, no page list, no settings sidebar, no case log path
    assert not at.file_uploader and not at.sidebar.number_input and not at.sidebar.caption
    assert [t.value for t in at.title] == ["fakescope dashboard"]

    at.text_input(key="login_password").set_value("wrong-but-long-enough-guess").run()
    assert not at.exception and "Wrong password" in at.error[0].value and not at.file_uploader

    at.text_input(key="login_password").set_value(TOKEN).run()
    assert not at.exception and not at.error
    assert "manipulated" in at.title[0].value and at.file_uploader(key="scan_upload")
    assert not at.text_input  # the password field is gone, and its value with it
    assert TOKEN not in repr(at.session_state.to_dict()) and TOKEN not in repr(at._tree)  # kept nowhere

    at.run()  # the session remembers
    assert "manipulated" in at.title[0].value

    at.sidebar.button(key="lock_session").click().run()
    assert at.text_input(key="login_password") and not at.file_uploader


def test_a_short_token_in_the_environment_opens_nothing(dash_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "short")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception and "locked" in at.error[0].value and not at.text_input and not at.file_uploader


def test_the_password_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    from dashboards import guard

    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    assert guard.token_matches(TOKEN, TOKEN) and not guard.token_matches(TOKEN[:-1], TOKEN)
    assert guard.token_matches("pässwörd-ünïcode-long", "pässwörd-ünïcode-long")
    assert len(seen) == 3


# ----------------------------------------------------------------------------- server paths


@pytest.fixture
def roots(dash_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(data root with a real clip, a folder outside every root with a clip and a run.json)."""
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    (data / "clips" / "real.mp4").write_bytes(REAL_CLIP.read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(REAL_CLIP.read_bytes())
    (outside / "run.json").write_text("{}")
    (outside / "manifest.csv").write_text("path,label\nsecret.mp4,real\n")
    (data / "link").symlink_to(outside, target_is_directory=True)  # a way out through a symbolic link
    monkeypatch.setenv("FAKESCOPE_DATA_DIR", str(data))
    return data, outside


def test_paths_outside_the_roots_are_refused(roots: tuple[Path, Path]) -> None:
    from dashboards.common import PathRefused, allowed_dirs_with, inside_roots, video_dirs

    data, outside = roots
    assert inside_roots(data / "clips" / "real.mp4") == (data / "clips" / "real.mp4").resolve()
    for bad in (outside, outside / "secret.mp4", data / "link", data / "link" / "secret.mp4",
                data / ".." / "outside", Path("/etc/passwd"), Path("/")):
        with pytest.raises(PathRefused, match="outside the folders this dashboard may read"):
            inside_roots(bad)
    # what the pages offer: found below the roots, never through the link
    assert video_dirs() == [(data / "clips").resolve()]
    assert allowed_dirs_with("run.json") == [] and allowed_dirs_with("manifest.csv") == []


def test_audit_refuses_sources_and_models_outside_the_roots(roots: tuple[Path, Path], dash_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import fakescope.audit.run
    from dashboards.common import PathRefused
    from dashboards.views import audit

    _, outside = roots

    def no_read(*a: object, **k: object) -> None:
        raise AssertionError("nothing may be read")

    monkeypatch.setattr(fakescope.audit.run, "load_items", no_read)
    with pytest.raises(PathRefused):
        audit.run([outside], ["default"], False, 0)
    with pytest.raises(PathRefused):
        audit.run([], [str(outside)], False, 0)  # a model folder is a server path too
    assert not (dash_env / "audits").exists()


def test_generate_refuses_videos_and_runs_outside_the_roots(roots: tuple[Path, Path], dash_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.testset
    from dashboards.common import PathRefused, swap_engine
    from dashboards.views import generate
    from generator.testset import TestsetConfig

    data, outside = roots

    def no_read(*a: object, **k: object) -> None:
        raise AssertionError("nothing may be read")

    monkeypatch.setattr(generator.testset, "find_videos", no_read)
    with pytest.raises(PathRefused):
        generate.build_with_progress([outside], dash_env / "out", TestsetConfig())
    with pytest.raises(PathRefused):
        generate.build_with_progress([data / "clips"], dash_env / "out", TestsetConfig(runs=(str(outside),)))
    with pytest.raises(PathRefused):
        swap_engine(outside)


def test_the_audit_page_shows_a_plain_error_for_a_path_outside(roots: tuple[Path, Path], dash_env: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Even if an outside folder reached the list (a stale or tampered value), the page refuses it."""
    from dashboards.views import audit

    _, outside = roots
    monkeypatch.setattr(audit, "allowed_dirs_with", lambda name: [outside] if name == "manifest.csv" else [])
    at = page_test("audit").run()
    assert not at.text_area and not [t for t in at.text_input]  # no free-text server paths at all
    at.multiselect(key="audit_sets").set_value([str(outside)])
    at.button(key="audit_run").click().run()
    assert not at.exception and "outside the folders this dashboard may read" in rendered(at.error[0].value)
    assert not (dash_env / "audits").exists()


def test_generate_page_has_no_free_text_paths(roots: tuple[Path, Path]) -> None:
    data, _ = roots
    at = page_test("generate").run()
    assert not at.exception and not at.text_area
    assert [t.key for t in at.text_input] == ["ts_name"]  # the new test set's name, validated
    assert at.multiselect(key="ts_real").options == [str((data / "clips").resolve())]


def test_uploaded_csv_rows_pointing_outside_are_refused_without_being_looked_up(
        roots: tuple[Path, Path], tmp_path: Path) -> None:
    from dashboards.views.audit import OUTSIDE, confine_csv, upload_errors
    from fakescope.audit.items import load_items

    data, outside = roots
    up = tmp_path / "upload.csv"
    up.write_text("path,label\n"
                  "clips/real.mp4,real\n"
                  f"{outside / 'secret.mp4'},fake\n"
                  "\n"
                  "../outside/secret.mp4,fake\n"
                  "link/secret.mp4,fake\n"
                  "/etc/passwd,real\n")
    confined = confine_csv(up, data.resolve(), EVIL)
    items, errors = load_items([up])
    errors = upload_errors(errors, confined)
    assert [i.path for i in items] == [(data / "clips" / "real.mp4").resolve()]
    assert [(e.source, e.row_number, e.reason) for e in errors] == [
        (f"uploaded {EVIL}", n, OUTSIDE) for n in (3, 5, 6, 7)]  # the upload's own line numbers
    assert [e.path for e in errors][1:] == ["../outside/secret.mp4", "link/secret.mp4", "/etc/passwd"]


# ----------------------------------------------------------------------------- visitor text


def test_plain_makes_markdown_literal() -> None:
    """Checked with a CommonMark parser here; a headless-browser run of the real renderer showed the
    same for these strings (bare links included: GitHub's autolink rule runs on the unescaped text)."""
    import re

    from markdown_it import MarkdownIt

    from dashboards.common import plain

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    # mdast-util-gfm-autolink-literal's patterns, applied by remark-gfm to text after escapes are undone
    bare_links = re.compile(r"(?i)(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+")
    for text in (EVIL, "![i](http://evil/p.png)", "<http://evil>", "**b** `c` $x$ ~~s~~ :red[y]", "a\n# h\n- l",
                 "back\\slash \\[x](y)", "see www.evil.com, HTTPS://evil.com or a@evil.com", "a|b\n-|-"):
        html = md.render(plain(text))
        assert "<a" not in html and "<img" not in html and "<strong" not in html and "<code" not in html
        assert "<h1" not in html and "<li" not in html and "<del" not in html and "<table" not in html
        assert not bare_links.search(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", plain(text)))
        assert rendered(plain(text)) == text.replace("\n", " ")


def _unescaped_markup(markdown: str) -> bool:
    """Whether a CommonMark renderer makes a link, an image or an HTML tag of this Markdown."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(markdown)
    return "<a " in html or "<img" in html


def test_case_names_are_shown_literally(dash_env: Path, tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    report = tmp_path / "r.html"
    report.write_text("<html><body>r</body></html>")
    case = append_case({"file": EVIL, "sha256": "ab" * 32, "verdict": "fake", "fake_probability": 0.9,
                        "versions": {}}, db, report)
    at = page_test("cases").run()
    assert not at.exception and at.dataframe[0].value["file"].iloc[0] == EVIL  # table cells are plain text

    one = page_test("cases")
    one.query_params["case"] = str(case)
    one.run()
    assert not one.exception
    heading = one.subheader[0].value
    assert rendered(heading) == f"Case #{case}: {EVIL}" and not _unescaped_markup(heading)
    assert f"File: {EVIL}" in one.text[0].value
    assert not any(_unescaped_markup(m.value) for m in one.markdown)

    probe = page_test("cases")
    probe.query_params["case"] = "[x](http://evil)"  # from the address bar
    probe.run()
    assert rendered(probe.error[0].value) == "There is no case #[x](http://evil) in this case log."
    assert not _unescaped_markup(probe.error[0].value)


@pytest.mark.slow
def test_upload_names_are_shown_literally(dash_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.file_uploader(key="scan_upload").set_value((EVIL, b"not a video at all\n" * 20, "video/mp4")).run()
    assert not at.exception
    msg = at.error[0].value
    assert rendered(msg).startswith(f"{EVIL} cannot be scanned") and not _unescaped_markup(msg)


# ----------------------------------------------------------------------------- errors


def test_a_page_error_shows_an_error_id_not_a_traceback(dash_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    from dashboards.views import scan

    def broken(settings: object) -> None:
        raise RuntimeError("boom in /srv/secret/module.py")

    monkeypatch.setattr(scan, "render", broken)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with caplog.at_level(logging.ERROR, logger="fakescope.dashboard"):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception  # Streamlit did not show its own exception box
    (error,) = at.error
    assert "error id" in error.value and "Reload the page" in error.value
    shown = repr(at._tree)
    assert "Traceback" not in shown and "boom" not in shown and "/srv/secret" not in shown
    ref = error.value.split("error id ")[1].split(")")[0]
    (logged,) = [r for r in caplog.records if ref in r.getMessage()]
    assert logged.exc_info and "boom" in str(logged.exc_info[1])  # the details stay on the server
    assert at.sidebar.number_input(key="max_upload_mb")  # the rest of the app still works
