"""Chat with your documents: the Streamlit entry point (router, sidebar, model warm-up).

Every page gets the shared service the same way:
``st.cache_resource(engine.create_service, ...)(load_settings())``. One service per
settings (models and index are process-wide inside the engine); tests replace
``rag.service.create_service`` with a factory that injects fake models.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from rag import gguf, i18n, requantize
from rag import service as engine
from rag.settings import Settings
from ui import auth

logging.basicConfig(level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("app")

if PagesManager.uses_pages_directory:
    # A pages/ folder beside the entry point puts a process's first run in Streamlit's
    # legacy multipage mode (a generated menu flashes in). This app routes with
    # st.navigation: leave that mode before anything is drawn.
    PagesManager.uses_pages_directory = False
    st.rerun()

# An emoji favicon: Streamlit draws it as an inline SVG, while a ":material/…:" one is
# fetched from fonts.gstatic.com, a network call this offline app must not make.
st.set_page_config(page_title="Chat con tus documentos", page_icon="💬",
                   layout="centered", initial_sidebar_state="expanded")


def get_service(settings: Settings) -> engine.RagService:
    return st.cache_resource(engine.create_service, show_spinner=False,
                             max_entries=1)(settings)


@st.cache_resource(show_spinner=False, max_entries=1)
def _warm_up(_service: engine.RagService, settings: Settings) -> threading.Thread:
    """Load the embedder and the model in the background once, so the first question
    does not wait for them (``settings`` keys the cache: a new model warms up again)."""

    def load() -> None:
        try:
            _ = _service.embedder, _service.llm
            log.info("models ready (%s)", settings.model or "default model")
        except Exception:  # the page shows the error when it needs the model
            log.warning("warm-up failed; the first question will retry", exc_info=True)

    thread = threading.Thread(target=load, name="model-warm-up", daemon=True)
    thread.start()
    return thread


def _model_label(model: str, models_dir: str) -> str:
    """Name, size and quantization of the file that runs (the packaged model's 8-bit copy
    once it is made: see ``rag.requantize``)."""
    chosen = gguf.resolve_model(model, models_dir)
    if chosen == gguf.default_model_path():
        chosen = requantize.running_file(chosen, models_dir)
    return _file_label(str(chosen), chosen.stat().st_mtime_ns)


@st.cache_data(show_spinner=False, max_entries=8)
def _file_label(path: str, _mtime_ns: int) -> str:
    info = gguf.model_info(Path(path))
    details = " · ".join(x for x in (info.parameters, info.quantization) if x and x != "?")
    return f"{info.name.removesuffix('.' + info.quantization)}  \n{details}" if details \
        else info.name


def sidebar_status(lang: str) -> None:
    """Model, hardware, offline status and library size, at the foot of the sidebar."""
    settings = auth.user_settings()
    service = get_service(settings)
    sidebar = st.sidebar
    sidebar.divider()
    try:
        label = (settings.llm_model or i18n.t("sidebar.server_model", lang)) \
            if settings.llm_url else _model_label(settings.model, settings.models_dir)
        sidebar.markdown(f":material/neurology: **{i18n.t('sidebar.model', lang)}:** "
                         f"{i18n.plain(label)}")
        loaded = service.hardware()
        icon = ":material/dns:" if loaded.server else ":material/memory:"
        sidebar.caption(f"{icon} {i18n.plain(i18n.hardware_text(loaded, lang))}")
    except Exception as exc:  # a broken model must not break navigation
        log.warning("model status unavailable: %s", exc)
        sidebar.caption(f":material/error: {i18n.error_message(exc, lang)}")
    if not (settings.llm_url or settings.database_url):
        sidebar.caption(f":material/wifi_off: {i18n.t('sidebar.offline', lang)}")
    try:
        documents, chunks = service.stats()
        sidebar.caption(f":material/library_books: {i18n.count('document', documents, lang)}"
                        f" · {i18n.count('chunk', chunks, lang)}")
    except Exception as exc:
        log.warning("library status unavailable: %s", exc)
        sidebar.caption(f":material/error: {i18n.error_message(exc, lang)}")


MEMBER_PATHS = ("chat", "documents", "settings", "account")


def _served_at(script: str, title: str, paths: tuple[str, ...] | list[str]) -> list[st.Page]:
    """Hidden pages that serve ``script`` at other ``paths`` too, instead of Streamlit's
    "Page not found" dialog. They run the page itself, not ``st.switch_page``: a browser
    can stay on the alias's page, and every rerun through a switch drops what the person
    just sent (a chat question, a login form)."""
    return [st.Page(script, title=title, url_path=path, visibility="hidden") for path in paths]


def public_pages(lang: str):
    """Login (and Register when open), or the first account's form on a new data dir."""
    accounts = auth.accounts()
    register = st.Page("pages/register.py", icon=":material/person_add:", url_path="register",
                       title=i18n.t("nav.setup" if accounts.needs_setup() else "nav.register",
                                    lang))
    if accounts.needs_setup():
        return st.navigation([register, *_served_at("pages/register.py", register.title,
                                                    MEMBER_PATHS)], position="hidden")
    login = st.Page("pages/login.py", title=i18n.t("nav.login", lang), icon=":material/login:",
                    url_path="login", default=True)
    pages = [login]
    if accounts.registration_mode() != "closed":
        pages.append(register)
    return st.navigation([*pages, *_served_at("pages/login.py", login.title, MEMBER_PATHS)])


def main() -> None:
    # The choice is copied to plain session state (read by the pages through
    # i18n.ui_language), so it survives even if the widget's own state is reset.
    lang = st.sidebar.segmented_control(
        "Idioma · Language", list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.__getitem__,
        key="ui_lang_choice", default=i18n.ui_language(st.session_state), required=True)
    lang = st.session_state[i18n.STATE_KEY] = lang or i18n.DEFAULT_LANGUAGE
    user = auth.current_user() if auth.enabled() else None
    if auth.enabled() and user is None:
        page = public_pages(lang)  # strangers see the login (or first-account) form only
        try:
            page.run()
        except Exception as exc:
            log.exception("page %s failed", page.title)
            st.error(i18n.error_message(exc, lang), icon=":material/error:")
        return
    chat = st.Page("pages/chat.py", title=i18n.t("nav.chat", lang), icon=":material/forum:",
                   url_path="chat-home", default=True)
    pages = [
        chat,
        st.Page("pages/documents.py", title=i18n.t("nav.documents", lang),
                icon=":material/folder_open:", url_path="documents"),
        st.Page("pages/settings.py", title=i18n.t("nav.settings", lang),
                icon=":material/tune:", url_path="settings"),
        # The default page is served at "/"; "/chat" serves it too.
        *_served_at("pages/chat.py", chat.title, ["chat"]),
    ]
    if user is not None:
        pages.append(st.Page("pages/account.py", title=i18n.t("nav.account", lang),
                             icon=":material/account_circle:", url_path="account"))
        st.sidebar.caption(":material/account_circle: "
                           + i18n.t("auth.signed_in", lang, name=i18n.plain(user.name)))
    page = st.navigation(pages)
    try:
        settings = auth.user_settings()
        _warm_up(get_service(settings), settings)
    except Exception:  # warm-up is an optimization
        log.warning("could not start the warm-up", exc_info=True)
    try:
        page.run()
    except Exception as exc:  # last resort: pages handle their own errors
        log.exception("page %s failed", page.title)
        st.error(i18n.error_message(exc, lang), icon=":material/error:")
    try:
        sidebar_status(lang)
    except Exception:  # the status is informative; never fail the page for it
        log.warning("sidebar status failed", exc_info=True)


main()
