"""End to end in a real headless Chromium: `fakescope dashboard` on localhost, a bad upload, then the
bundled fake clip, until the verdict card shows; a screenshot is saved for a human to look at.

Set FAKESCOPE_SCREENSHOT_DIR to keep a copy of the screenshot. Needs Debian's chromium (/usr/bin/chromium, or $FAKESCOPE_CHROMIUM) and the playwright package;
browsers are never downloaded (no `playwright install`). Skips with the reason when either is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboards.conftest import FAKE_CLIP

CHROMIUM = os.environ.get("FAKESCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 120
VERDICT_TIMEOUT_MS = 240_000  # a scan on a shared 2-core machine; a hang still fails


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """`fakescope dashboard` as its own process group on a free localhost port; always killed."""
    from fakescope.scan.caselog import append_case

    planted = tmp_path / "planted.html"  # a case whose report was tampered with: its script must not run
    planted.write_text("<html><body><p id='x'>static text</p>"
                       "<script>document.getElementById('x').textContent='script ran'</script></body></html>")
    append_case({"file": "planted.mp4", "sha256": "0" * 64, "verdict": "real", "fake_probability": 0.1,
                 "versions": {}}, tmp_path / "cases.db", planted)
    port = _free_port()
    env = dict(os.environ, FAKESCOPE_DASHBOARD_DIR=str(tmp_path / "workspace"),
               FAKESCOPE_CASES_DB=str(tmp_path / "cases.db"), FAKESCOPE_MAX_UPLOAD_MB="20",
               STREAMLIT_SERVER_HEADLESS="true", STREAMLIT_SERVER_ADDRESS="127.0.0.1",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", STREAMLIT_SERVER_FILE_WATCHER_TYPE="none")
    log = (tmp_path / "streamlit.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "fakescope.cli", "dashboard", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"dashboard did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.slow
def test_browser_scan_of_the_bundled_fake_clip(dashboard: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium; bash .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2600})
            page.goto(dashboard, wait_until="domcontentloaded")
            page.get_by_text("is this video manipulated?").wait_for(timeout=60_000)
            upload = page.locator("input[type=file]").first

            notes = tmp_path / "notes.mp4"
            notes.write_text("not a video, just text with a video name\n" * 20)
            upload.set_input_files(str(notes))
            page.get_by_text("notes.mp4 cannot be scanned: it is a text file, not a video").wait_for(timeout=60_000)

            upload.set_input_files(str(FAKE_CLIP))
            card = page.get_by_text("Verdict:", exact=False)
            card.first.wait_for(timeout=VERDICT_TIMEOUT_MS)
            page.get_by_text("Probability of manipulation").wait_for(timeout=30_000)
            page.get_by_text("Download the HTML report").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)  # let the figures paint before the screenshot
            text = page.locator("[data-testid=stMain]").inner_text()
            shot = tmp_path / "dashboard_screenshot.png"
            page.screenshot(path=str(shot), full_page=True)

            # the Cases page lists the scan, and its report link (cases?case=2) opens the stored report
            page.goto(dashboard + "/cases", wait_until="domcontentloaded")
            page.get_by_text("2 cases in").wait_for(timeout=60_000)
            page.goto(dashboard + "/cases?case=2", wait_until="domcontentloaded")
            page.get_by_text("Case #2: fake_selfblend.mp4").wait_for(timeout=60_000)
            report = page.frame_locator("iframe").first.get_by_text("Provenance of this report")
            report.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "case_report.png"))

            page.goto(dashboard + "/cases?case=1", wait_until="domcontentloaded")
            page.get_by_text("Case #1: planted.mp4").wait_for(timeout=60_000)
            planted = page.frame_locator("iframe").first.locator("#x")
            planted.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            planted_text = planted.inner_text()
        finally:
            browser.close()

    assert planted_text == "static text"  # the report's script was blocked
    assert "cannot be scanned" not in text  # the error went away with the good upload
    label = next(w for w in ("FAKE", "REAL", "INCONCLUSIVE") if f"Verdict: {w}" in text)
    after = text.split("Probability of manipulation, P(fake)", 1)[1].split()
    assert 0.0 <= float(after[0]) <= 1.0, after[:3]
    assert label and shot.stat().st_size > 20_000
    if keep := os.environ.get("FAKESCOPE_SCREENSHOT_DIR"):  # a copy for people to look at
        shutil.copy(shot, Path(keep) / "dashboard_screenshot.png")
