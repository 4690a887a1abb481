"""The app's server: ``streamlit run serve.py`` serves ``app.py`` plus two small routes that
set and clear the login cookie (Streamlit's ``st.App`` with custom routes).

A Streamlit script can read cookies but not set them; ``st.login`` solves this with server
routes that the browser is redirected to, and so does this app:

- ``GET /api/session/start?code=…&next=…``: redeems a one-time code (issued by the app
  right after a successful login, valid 60 s, only from the browser that logged in) for
  the session token and stores it in an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure``
  over HTTPS), then returns to the app.
- ``GET /api/session/end``: clears the cookie (the session itself was already revoked on
  the server, so a copy of the cookie is useless).

``streamlit run app.py`` still works: logins then last as long as the browser tab.
"""

from __future__ import annotations

import re

import streamlit as st
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from rag.auth import HANDOFFS
from rag.settings import load_settings
from ui.auth import COOKIE, END_ROUTE, START_ROUTE, XSRF_COOKIE, browser_binding

SAFE_PAGE = re.compile(r"^[a-z0-9_-]{0,40}$")


def _base() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/" if base else "/"


def _back(request: Request) -> RedirectResponse:
    page = request.query_params.get("next", "")
    response = RedirectResponse(_base() + (page if SAFE_PAGE.match(page) else ""),
                                status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _secure(request: Request) -> bool:
    return (request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "").lower() == "https")


async def start_session(request: Request) -> RedirectResponse:
    response = _back(request)
    token = HANDOFFS.redeem(request.query_params.get("code"),
                            browser_binding(request.cookies.get(XSRF_COOKIE)))
    if token:
        days = load_settings().session_days
        response.set_cookie(COOKIE, token, max_age=int(days * 86400), path=_base(),
                            httponly=True, samesite="lax", secure=_secure(request))
    return response


async def end_session(request: Request) -> RedirectResponse:
    response = _back(request)
    response.delete_cookie(COOKIE, path=_base(), httponly=True, samesite="lax",
                           secure=_secure(request))
    return response


HANDOFFS.enabled = True
app = st.App("app.py", routes=[Route(_base() + START_ROUTE, start_session),
                               Route(_base() + END_ROUTE, end_session)])

if __name__ == "__main__":
    app.run()
