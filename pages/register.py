"""Register: the first account of a new data dir (the administrator), or a new account
while the administrator keeps registration open (or by invitation code)."""

from __future__ import annotations

import logging

import streamlit as st

from rag import i18n
from rag.errors import AuthError
from ui import auth

log = logging.getLogger("app.register")
LANG = i18n.ui_language(st.session_state)


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


def main() -> None:
    accounts = auth.accounts()
    setup = accounts.needs_setup()
    st.title(t("auth.setup_title" if setup else "auth.register_title"))
    if setup:
        st.caption(t("auth.setup_caption"))
    invite_needed = not setup and accounts.registration_mode() == "invite"
    with st.form("register_form", border=True):
        name = st.text_input(t("auth.name"), key="register_name", autocomplete="username")
        password = st.text_input(t("auth.password"), type="password", key="register_password",
                                 help=t("auth.password_help", min=accounts.min_password),
                                 autocomplete="new-password")
        again = st.text_input(t("auth.password_again"), type="password", key="register_again",
                              autocomplete="new-password")
        invite = st.text_input(t("auth.invite"), key="register_invite") if invite_needed \
            else ""
        submitted = st.form_submit_button(t("auth.register_go"), type="primary",
                                          icon=":material/person_add:")
    if not submitted:
        return
    if password != again:
        st.error(t("auth.mismatch"), icon=":material/error:")
        return
    try:
        user = accounts.register(name, password, invite=invite)
        _, token = accounts.login(user.name, password, auth.client_address())
    except AuthError as exc:
        st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        return
    log.info("account %r registered (%s)", user.name, user.role)
    auth.begin_session(token)


main()
