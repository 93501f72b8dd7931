"""`fakescope dashboard`: start the Streamlit app (found by its module path, never imported here).

Private by default: the server listens on 127.0.0.1 only and accepts WebSocket connections only
for the loopback host names (a web page that rebinds its own name to 127.0.0.1 cannot drive it).
``--host`` serves other machines, and only with a password in $FAKESCOPE_DASHBOARD_TOKEN (at
least 16 characters) that every visitor must type; the token travels in the environment, never
on the command line. Streamlit shows visitors no tracebacks (``client.showErrorDetails none``),
and refuses uploads above $FAKESCOPE_MAX_UPLOAD_MB while they stream in, before they are buffered.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

# the dashboard reads the same variable (dashboards/guard.py); the CLI may not import the UI
TOKEN_ENV = "FAKESCOPE_DASHBOARD_TOKEN"
MIN_TOKEN_CHARS = 16
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    """True for the names that reach this machine only: 127.0.0.1, ::1 (also [::1]) and localhost."""
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    return h in LOOPBACK_HOSTS


def check_host(host: str) -> None:
    if not host or host != host.strip() or host.startswith("-") or any(c.isspace() or ord(c) < 32 for c in host):
        raise ValueError(f"--host {host!r} is not a host name or address (e.g. 127.0.0.1 or 0.0.0.0)")


def check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"--port must be a whole number from 1 to 65535, got {port!r}")


def check_token(host: str, env: Mapping[str, str]) -> bool:
    """Whether the app will ask for the token; ValueError when it is too short, or missing off loopback.

    The messages never repeat the token."""
    token = env.get(TOKEN_ENV, "")
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"{TOKEN_ENV} must be at least {MIN_TOKEN_CHARS} characters (it has {len(token)}); "
                         "use a long random one, e.g. from `python -c \"import secrets; print(secrets.token_urlsafe())\"`")
    if not token and not is_loopback(host):
        raise ValueError(f"--host {host} serves the dashboard to other machines, which needs a password: set "
                         f"{TOKEN_ENV} to a random string of at least {MIN_TOKEN_CHARS} characters (visitors type it), "
                         "or leave out --host to serve this machine only")
    return bool(token)


def app_path() -> str:
    import importlib.util

    # the CLI sits below the UI: `streamlit run` executes the app, this process never imports it
    spec = importlib.util.find_spec("dashboards.app")
    if spec is None or spec.origin is None:
        raise ValueError("the dashboard is not installed (the dashboards package is missing)")
    return spec.origin


def streamlit_command(host: str, port: int, env: Mapping[str, str], *, max_upload_mb: int | None = None,
                      app: str | None = None) -> list[str]:
    """The `streamlit run` command line for ``fakescope dashboard``; ValueError when it must not start.

    Pure apart from finding the app (``app``) and reading $FAKESCOPE_MAX_UPLOAD_MB (``max_upload_mb``)
    when they are not given, so tests check it without starting a server."""
    check_host(host)
    check_port(port)
    check_token(host, env)
    if max_upload_mb is None:
        from fakescope.core.paths import env_max_upload_mb

        max_upload_mb = env_max_upload_mb()
    cmd = [sys.executable, "-m", "streamlit", "run", app or app_path(),
           "--server.address", host, "--server.port", str(port),
           # Streamlit's own ceiling: larger uploads are cut off while they stream in, before they are buffered
           "--server.maxUploadSize", str(max_upload_mb),
           "--server.enableXsrfProtection", "true", "--server.enableCORS", "true",
           "--client.showErrorDetails", "none",  # visitors see a generic message; tracebacks go to the log
           "--client.toolbarMode", "minimal", "--browser.gatherUsageStats", "false"]
    if is_loopback(host):
        # DNS rebinding: a page whose name resolves to 127.0.0.1 would otherwise be same-origin with us
        for name in LOOPBACK_HOSTS:
            cmd += ["--server.allowedHosts", name]
    return cmd


def cmd_dashboard(args: argparse.Namespace) -> int:
    import subprocess

    cmd = streamlit_command(args.host, args.port, os.environ)
    if not is_loopback(args.host):
        print(f"fakescope: serving {args.host}:{args.port} to other machines; visitors must type ${TOKEN_ENV}. "
              "The connection is plain HTTP: on an untrusted network put HTTPS in front (a reverse proxy, or "
              "STREAMLIT_SERVER_SSL_CERT_FILE and STREAMLIT_SERVER_SSL_KEY_FILE).", file=sys.stderr)
    return subprocess.call(cmd)


def register(sub: argparse._SubParsersAction) -> None:
    dash = sub.add_parser("dashboard", help="start the Streamlit dashboard (on 127.0.0.1 unless --host is given)")
    dash.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    dash.add_argument("--host", default=DEFAULT_HOST,
                      help=f"address to listen on (default {DEFAULT_HOST}: this machine only); any other "
                           f"address needs ${TOKEN_ENV}, a password of at least {MIN_TOKEN_CHARS} characters")
    dash.set_defaults(func=cmd_dashboard)
