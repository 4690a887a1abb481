"""Account: who is logged in, change password (which ends every session), log out."""

from __future__ import annotations

import logging

import streamlit as st

from rag import i18n
from rag.errors import AuthError
from ui import auth

log = logging.getLogger("app.account")
LANG = i18n.ui_language(st.session_state)


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


def main() -> None:
    user = auth.signed_in()
    accounts = auth.accounts()
    st.title(t("auth.account_title"))
    st.markdown(t("auth.signed_in", name=i18n.plain(user["name"])) + " · "
                + t("auth.role_admin" if user["role"] == "admin" else "auth.role_user"))
    left, right = st.columns(2)
    if left.button(t("auth.logout"), icon=":material/logout:", key="logout",
                   help=t("auth.logout_help"), width="stretch"):
        auth.log_out()
    sessions = accounts.sessions.count(user["id"])
    if right.button(t("auth.logout_all"), icon=":material/devices:", key="logout_all",
                    help=t("auth.logout_all_help", count=sessions), width="stretch"):
        accounts.sessions.revoke_user(user["id"])
        auth.log_out()
    st.subheader(t("auth.change_password"))
    with st.form("password_form", border=True, clear_on_submit=True):
        old = st.text_input(t("auth.current_password"), type="password", key="old_password",
                            autocomplete="current-password")
        new = st.text_input(t("auth.new_password"), type="password", key="new_password",
                            help=t("auth.password_help", min=accounts.min_password),
                            autocomplete="new-password")
        again = st.text_input(t("auth.password_again"), type="password", key="new_again",
                              autocomplete="new-password")
        submitted = st.form_submit_button(t("auth.change_go"), icon=":material/key:")
    if not submitted:
        return
    if new != again:
        st.error(t("auth.mismatch"), icon=":material/error:")
        return
    try:
        accounts.change_password(user["name"], old, new, auth.client_address())
    except AuthError as exc:
        st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        return
    log.info("password of %r changed; sessions ended", user["name"])
    st.success(t("auth.changed"), icon=":material/check_circle:")
    st.button(t("auth.login_go"), icon=":material/login:", key="login_again")  # a rerun


main()
