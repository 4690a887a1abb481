"""Login: user name and password; failed attempts are slowed down (see ``rag.auth``)."""

from __future__ import annotations

import logging

import streamlit as st

import accounts_ui
from rag import i18n
from rag.errors import AuthError

log = logging.getLogger("app.login")
LANG = i18n.ui_language(st.session_state)


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


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
            _, token = accounts_ui.accounts().login(name, password,
                                                    accounts_ui.client_address())
        except AuthError as exc:
            log.info("failed login for %r from %s", name[:64], accounts_ui.client_address())
            st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        else:
            log.info("login of %r", name)
            accounts_ui.begin_session(token)
    if accounts_ui.accounts().registration_mode() == "closed":
        st.caption(t("auth.no_account"))
    else:
        st.page_link("pages/register.py", label=t("auth.register_link"),
                     icon=":material/person_add:")


main()
