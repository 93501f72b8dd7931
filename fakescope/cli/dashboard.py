"""`fakescope dashboard`: start the Streamlit app (found by its module path, never imported here)."""

from __future__ import annotations

import argparse
import sys


def cmd_dashboard(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    from fakescope.core.paths import env_max_upload_mb

    # the CLI sits below the UI: `streamlit run` executes the app, this process never imports it
    spec = importlib.util.find_spec("dashboards.app")
    if spec is None or spec.origin is None:
        raise ValueError("the dashboard is not installed (the dashboards package is missing)")
    cmd = [sys.executable, "-m", "streamlit", "run", spec.origin, "--server.port", str(args.port),
           "--server.maxUploadSize", str(env_max_upload_mb()), "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]
    return subprocess.call(cmd)


def register(sub: argparse._SubParsersAction) -> None:
    dash = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    dash.add_argument("--port", type=int, default=8501)
    dash.set_defaults(func=cmd_dashboard)
