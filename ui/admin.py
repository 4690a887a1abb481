"""The administrators' part of the Settings page: accounts (add, reset password, disable,
delete with their data after typing the name), registration mode, the shared library."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import streamlit as st

from rag import i18n, shared
from rag import service as engine
from rag.auth import REGISTRATION_MODES
from rag.errors import RagError
from ui import auth

log = logging.getLogger("app.admin")


def administration(service: engine.RagService, lang: str) -> None:
    def t(key: str, **params: object) -> str:
        return i18n.t(key, lang, **params)

    st.header(t("admin.title"), divider="gray")
    notice = st.session_state.pop("admin_notice", None)
    if notice:
        (st.success if notice[0] == "success" else st.info)(notice[1],
                                                             icon=":material/check_circle:")
    _users(t, lang)
    _registration(t)
    _shared_library(service, t, lang)


def _done(message: str) -> None:
    st.session_state["admin_notice"] = ("success", message)
    st.rerun()


def _users(t, lang: str) -> None:
    accounts = auth.accounts()
    me = auth.signed_in() or {}
    users = accounts.users()
    st.subheader(t("admin.users"))
    st.dataframe(
        [{t("admin.col_name"): u.name,
          t("admin.col_role"): t("auth.role_admin" if u.is_admin else "auth.role_user"),
          t("admin.col_state"): t("admin.disabled" if u.disabled else "admin.active"),
          t("admin.col_created"): datetime.fromtimestamp(u.created, UTC).strftime("%Y-%m-%d")}
         for u in users], hide_index=True, width="stretch")
    with st.expander(t("admin.add_user"), icon=":material/person_add:"), \
            st.form("admin_add_user", border=False, clear_on_submit=True):
        name = st.text_input(t("auth.name"), key="admin_new_name")
        password = st.text_input(t("auth.password"), type="password", key="admin_new_password",
                                 help=t("auth.password_help", min=accounts.min_password))
        admin = st.checkbox(t("admin.make_admin"), key="admin_new_admin")
        if st.form_submit_button(t("admin.add_user"), type="primary"):
            try:
                user = accounts.create_user(name, password, role="admin" if admin else "user")
            except RagError as exc:
                st.error(i18n.error_message(exc, lang), icon=":material/error:")
            else:
                _done(t("admin.added", name=i18n.plain(user.name)))
    others = [u for u in users if u.id != me.get("id")]
    if not others:
        return
    with st.expander(t("admin.manage"), icon=":material/manage_accounts:"):
        by_name = {u.name: u for u in others}
        name = st.selectbox(t("admin.pick_user"), list(by_name), key="admin_pick",
                            format_func=i18n.plain)
        user = by_name[name]
        try:
            _manage(accounts, user, t)
        except RagError as exc:
            st.error(i18n.error_message(exc, lang), icon=":material/error:")


def _manage(accounts, user, t) -> None:
    with st.form("admin_reset", border=False, clear_on_submit=True):
        password = st.text_input(t("admin.reset"), type="password", key="admin_reset_password")
        if st.form_submit_button(t("admin.reset_go"), icon=":material/key:"):
            accounts.set_password(user.name, password)
            _done(t("admin.reset_done", name=i18n.plain(user.name)))
    label = t("admin.enable") if user.disabled else t("admin.disable")
    if st.button(label, key="admin_toggle", icon=":material/block:"):
        accounts.set_disabled(user.name, not user.disabled)
        state = t("admin.active" if user.disabled else "admin.disabled")
        _done(t("admin.state_done", name=i18n.plain(user.name), state=state))
    st.warning(t("admin.delete_warning", name=i18n.plain(user.name)), icon=":material/warning:")
    typed = st.text_input(t("admin.delete_confirm"), key="admin_delete_confirm")
    if st.button(t("admin.delete"), key="admin_delete", type="primary",
                 icon=":material/delete_forever:", disabled=typed != user.name):
        accounts.delete_user(user.name)
        log.info("account %r deleted by an administrator", user.name)
        _done(t("admin.deleted", name=i18n.plain(user.name)))


def _registration(t) -> None:
    accounts = auth.accounts()
    st.subheader(t("admin.registration"))
    code = st.session_state.pop("admin_invite_code", None)
    if code:
        st.info(t("admin.invite_code", code=code), icon=":material/key:")
    labels = {m: t(f"admin.reg_{m}") for m in REGISTRATION_MODES}
    current = accounts.registration_mode()
    with st.form("admin_registration", border=False):
        mode = st.radio(t("admin.registration"), list(labels), format_func=labels.__getitem__,
                        index=list(labels).index(current), key="admin_registration_mode",
                        label_visibility="collapsed")
        if st.form_submit_button(t("set.save"), icon=":material/save:"):
            new_code = accounts.set_registration_mode(mode)
            if new_code:
                st.session_state["admin_invite_code"] = new_code
            _done(t("admin.reg_saved", mode=labels[mode]))


def _shared_library(service: engine.RagService, t, lang: str) -> None:
    st.subheader(t("admin.shared"))
    st.caption(t("admin.shared_caption"))
    shared_service = auth.shared_service(service.settings)
    published = [d.name for d in shared_service.list_documents()]
    if published:
        st.markdown(" · ".join(i18n.plain(n) for n in published))
    else:
        st.caption(t("admin.shared_empty"))
    own = [d.name for d in service.list_documents()]
    left, right = st.columns(2)
    with left.form("admin_publish", border=True):
        picks = st.multiselect(t("admin.publish_pick"), own, key="admin_publish_pick")
        if st.form_submit_button(t("admin.publish"), icon=":material/share:") and picks:
            reports = shared.publish(service, shared_service, picks)
            failed = [r for r in reports if not r.ok]
            for report in failed:
                st.error(f"{i18n.plain(report.file_name)}: "
                         f"{i18n.error_text(report.error_code, report.error, lang)}")
            if not failed:
                _done(t("admin.published", names=", ".join(i18n.plain(n) for n in picks)))
    with right.form("admin_unpublish", border=True):
        picks = st.multiselect(t("admin.unpublish_pick"), published, key="admin_unpublish_pick")
        if st.form_submit_button(t("admin.unpublish"), icon=":material/remove_circle:") \
                and picks:
            for name in picks:
                shared_service.delete_document(name)
            _done(t("admin.unpublished", names=", ".join(i18n.plain(n) for n in picks)))
