"""Login: user name and password; failed attempts are slowed down (see ``rag.auth``)."""

from __future__ import annotations

import logging

import streamlit as st

from rag import i18n
from rag.errors import AuthError
from ui import auth

log = logging.getLogger("app.login")
LANG = i18n.ui_language(st.session_state)


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


def _loggable(name: str) -> str:
    """What a failed login may log of the typed name: an account's name, never anything
    else (a password typed into the name field must not reach the log)."""
    try:
        return repr(auth.accounts().get(name.strip()).name)
    except AuthError:
        return "a name that is no account"


def main() -> None:
    st.title(t("auth.login_title"))
    st.caption(t("auth.login_caption"))
    with st.form("login_form", border=True):
        name = st.text_input(t("auth.name"), key="login_name", autocomplete="username")
        password = st.text_input(t("auth.password"), type="password", key="login_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(t("auth.login_go"), type="primary",
                                          icon=":material/login:")
    if submitted:
        try:
            user, token = auth.accounts().login(name, password, auth.client_address())
        except AuthError as exc:
            log.info("failed login (%s) for %s from %s", exc.code, _loggable(name),
                     auth.client_address() or "an unknown address")
            st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        else:
            log.info("login of %r", user.name)
            auth.begin_session(token)
    if auth.accounts().registration_mode() == "closed":
        st.caption(t("auth.no_account"))
    else:
        st.page_link("pages/register.py", label=t("auth.register_link"),
                     icon=":material/person_add:")


main()
