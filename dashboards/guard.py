"""What stands between a visitor and the pages: the password gate and the error screen.

Password: when $FAKESCOPE_DASHBOARD_TOKEN is set (``fakescope dashboard --host`` requires it),
every page waits behind a password field until the visitor types the token; the comparison is
constant-time (``hmac.compare_digest``) and the session then remembers a keyed digest of the token,
never the token or what was typed. Without the variable (the default, loopback-only server) there
is no prompt. A token shorter than 16 characters opens nothing.

Errors: ``run_guarded`` runs a page and turns any exception into a short message with an error
id; the traceback goes to the server's log under that id, never to the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable

import streamlit as st

TOKEN_ENV = "FAKESCOPE_DASHBOARD_TOKEN"  # as in fakescope.cli.dashboard, which may not import this package
MIN_TOKEN_CHARS = 16
FAILED_LOGIN_DELAY_S = 1.0  # slows guessing; the token's length is what makes guessing hopeless
_SESSION_KEY = "_fakescope_unlocked"
_PASSWORD_KEY = "login_password"

LOG = logging.getLogger("fakescope.dashboard")


def _session_mark(token: str) -> str:
    """What the session keeps once unlocked: useless to anyone who does not already know the token."""
    return hmac.new(token.encode("utf-8"), b"fakescope dashboard session", hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def is_unlocked() -> bool:
    """Whether this session may see the pages (always, when no token is set); draws nothing."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        return True
    if len(token) < MIN_TOKEN_CHARS:
        return False
    return hmac.compare_digest(str(st.session_state.get(_SESSION_KEY, "")), _session_mark(token))


def login() -> None:
    """The password prompt, drawn instead of every page while the session is locked; a right
    password unlocks the session and reruns the page that was asked for."""
    token = os.environ.get(TOKEN_ENV, "")
    st.title("fakescope dashboard")
    if len(token) < MIN_TOKEN_CHARS:
        st.error(f"This dashboard is locked: {TOKEN_ENV} is set but shorter than {MIN_TOKEN_CHARS} characters. "
                 "Whoever runs it must set a longer one and restart it.")
        return
    given = st.text_input("Password", type="password", key=_PASSWORD_KEY, max_chars=max(1024, len(token)),
                          help=f"The value of {TOKEN_ENV} on the server; ask whoever runs this dashboard.")
    if not given:
        return
    if token_matches(given, token):
        st.session_state[_SESSION_KEY] = _session_mark(token)
        LOG.info("dashboard: a session unlocked")
        st.rerun()  # draws the page; the password field is gone, and its value with it
    LOG.warning("dashboard: wrong password entered")
    time.sleep(FAILED_LOGIN_DELAY_S)
    st.error("Wrong password.")


def lock_button() -> None:
    """A sidebar button that locks this session again (only when a password is in use)."""
    if os.environ.get(TOKEN_ENV) and st.sidebar.button("Lock this session", key="lock_session"):
        st.session_state.pop(_SESSION_KEY, None)
        st.rerun()


def run_guarded(page: str, render: Callable[[], None]) -> bool:
    """Run one page; on an unexpected error show a short message with an error id (the traceback is
    logged on the server under that id). True when the page ran to the end.

    st.stop() and st.rerun() are BaseExceptions, so they pass through as Streamlit expects."""
    try:
        render()
        return True
    except Exception:
        ref = secrets.token_hex(4)
        LOG.exception("dashboard: the %s page failed, error id %s", page, ref)
        st.error(f"Something went wrong on the {page} page (error id {ref}). Nothing you uploaded was kept. "
                 "Reload the page and try again; if it happens again, give the error id to whoever runs this "
                 "dashboard: the details are in the server's log.")
        return False
