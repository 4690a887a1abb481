"""Streamlit glue for accounts: who is logged in, their settings, the login cookie.

The engine (``rag.auth``) knows users and sessions; this module ties them to a browser:

- the session token lives in ``st.session_state`` (this tab) and in an HttpOnly cookie
  (``rag_session``) so that a refresh keeps the login. Streamlit can read cookies
  (``st.context.cookies``) but a script cannot set one: like ``st.login``, the script sends
  the browser to a server route (``serve.py``) that sets the cookie and sends it back. The
  token travels through a one-time, 60-second code, never in a URL.
- every page asks :func:`user_settings` for the settings of the person logged in: their own
  data dir (``<data_dir>/users/<id>/``, or the data dir itself for the first administrator),
  so their library, chats and settings are theirs alone.

With ``RAG_AUTH=off`` nobody logs in and everything is the data dir's (single-person mode).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import quote

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rag import service as engine
from rag import shared
from rag.auth import HANDOFFS, Accounts, User, accounts_enabled
from rag.settings import Settings, load_settings

log = logging.getLogger("app.accounts")

COOKIE = "rag_session"
XSRF_COOKIE = "_streamlit_xsrf"
START_ROUTE = "api/session/start"
END_ROUTE = "api/session/end"
USER_KEY = "auth_user"  # plain data: {"id", "name", "role", "home"}
TOKEN_KEY = "auth_token"  # noqa: S105 (a session-state key, not a secret)
KEEP_ON_RESET = ("ui_lang", "ui_lang_choice")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def enabled() -> bool:
    """Accounts on (the default) unless ``RAG_AUTH=off`` (or the data dir's settings)."""
    return accounts_enabled(load_settings().auth)


@st.cache_resource(show_spinner=False, max_entries=4)
def _accounts(data_dir: str, session_days: float, idle_hours: float) -> Accounts:
    return Accounts(data_dir, session_days=session_days, idle_hours=idle_hours)


def accounts() -> Accounts:
    root = load_settings()
    return _accounts(root.data_dir, root.session_days, root.session_idle_hours)


def _cookie(name: str) -> str | None:
    try:
        value = st.context.cookies.get(name)
    except Exception:  # no browser request (e.g. AppTest)
        return None
    return value if isinstance(value, str) else None


def _cookie_token() -> str | None:
    return _cookie(COOKIE)


def browser_binding(xsrf_cookie: str | None) -> str:
    """A digest of this browser's XSRF token (Streamlit's cookie, whose mask changes but
    whose token does not), binding a login handoff to the browser that logged in; ``""``
    when there is none (XSRF protection off)."""
    try:
        from streamlit.web.server.starlette.starlette_app_utils import (
            decode_xsrf_token_string,
        )

        token, _ = decode_xsrf_token_string(xsrf_cookie or "")
    except Exception:
        return ""
    return hashlib.sha256(token).hexdigest() if token else ""


def client_address() -> str:
    """The browser's address, for slowing down failed logins per client. Behind a proxy on
    this machine (nginx, a Colab tunnel) the peer is loopback: the address the proxy saw
    is then the last one it appended to ``X-Forwarded-For``."""
    try:
        address = st.context.ip_address or "127.0.0.1"  # None: a loopback peer
        forwarded = st.context.headers.get("X-Forwarded-For") or ""
    except Exception:  # no browser request (e.g. AppTest)
        return ""
    if not isinstance(address, str):
        return ""
    if address in LOOPBACK and isinstance(forwarded, str) and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64]
    return address


def _reset_state() -> None:
    for key in list(st.session_state):
        if key not in KEEP_ON_RESET:
            del st.session_state[key]


def current_user() -> User | None:
    """The person logged in on this tab (checked against the server on every run, so a
    logout, password change or disabled account elsewhere takes effect at once)."""
    token = st.session_state.get(TOKEN_KEY) or _cookie_token()
    user = accounts().user_for_token(token) if token else None
    known = st.session_state.get(USER_KEY)
    if user is None:
        if known or TOKEN_KEY in st.session_state:
            _reset_state()  # nothing of the previous person stays in this tab
        return None
    if not known or known["id"] != user.id:
        _reset_state()
    st.session_state[TOKEN_KEY] = token
    st.session_state[USER_KEY] = {"id": user.id, "name": user.name, "role": user.role,
                                  "home": user.home}
    return user


def signed_in() -> dict | None:
    """The plain record of the person logged in (set by :func:`current_user` this run)."""
    return st.session_state.get(USER_KEY) if enabled() else None


def is_admin() -> bool:
    """Admin pages: everyone in single-person mode, else administrators only."""
    user = signed_in()
    return not enabled() or bool(user and user["role"] == "admin")


def user_settings() -> Settings:
    """The settings (and data dir) of the person logged in; the data dir's in
    single-person mode."""
    root = load_settings()
    if not enabled():
        return root
    user = st.session_state.get(USER_KEY)
    if not user:
        raise PermissionError("no one is logged in")
    return load_settings(Path(root.data_dir) / user["home"]) if user["home"] else root


def shared_settings(settings: Settings) -> Settings:
    """The shared library's settings (see :func:`rag.shared.library_settings`)."""
    return shared.library_settings(settings, load_settings().data_dir)


def _cached_service(settings: Settings) -> engine.RagService:
    return st.cache_resource(engine.create_service, show_spinner=False,
                             max_entries=4)(settings)


def shared_service(settings: Settings) -> engine.RagService | None:
    """The shared library's service for this person's settings, made if need be (the
    administration's, to publish into); ``None`` in single-person mode. Searching goes
    through :func:`with_shared`, which attaches it only once something was published."""
    return _cached_service(shared_settings(settings)) if enabled() else None


def with_shared(service: engine.RagService) -> engine.RagService:
    """``service``, searching the shared library too when there is one (as the CLI does:
    :func:`rag.shared.attach`)."""
    return shared.attach(service, load_settings(), _cached_service)


def _base_path() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/" if base else "/"


def _redirect(url: str) -> None:
    """Send the browser to ``url`` (how ``st.login`` reaches its own routes)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    message = ForwardMsg()
    message.auth_redirect.url = url
    ctx.enqueue(message)


def begin_session(token: str, next_page: str = "") -> None:
    """Use the new session here, and (where ``serve.py`` runs) store it in the cookie."""
    _reset_state()
    st.session_state[TOKEN_KEY] = token
    if HANDOFFS.enabled:
        code = HANDOFFS.issue(token, browser_binding(_cookie(XSRF_COOKIE)))
        _redirect(f"{_base_path()}{START_ROUTE}?code={quote(code)}&next={quote(next_page)}")
        st.stop()
    st.rerun()


def log_out() -> None:
    """End the session on the server (a copied cookie stops working), then clear the tab
    and the cookie."""
    token = st.session_state.get(TOKEN_KEY) or _cookie_token()
    accounts().sessions.revoke(token)
    if token != _cookie_token():
        accounts().sessions.revoke(_cookie_token())
    _reset_state()
    if HANDOFFS.enabled:
        _redirect(f"{_base_path()}{END_ROUTE}")
        st.stop()
    st.rerun()
