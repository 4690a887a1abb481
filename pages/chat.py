"""Chat: questions answered from the library, streamed, with their sources (the supporting
sentences in bold), the query that was searched (editable), a document filter, summaries
and saved conversations.

Everything that comes from documents or the model is shown through ``i18n.plain``: inert
Markdown, never HTML.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from rag import chats, i18n, shared
from rag import service as engine
from rag.errors import RagError
from ui import auth
from ui.chat_turns import Turn, document_label, render_answer

if PagesManager.uses_pages_directory:  # run without the router: see app.py
    PagesManager.uses_pages_directory = False
    st.rerun()

log = logging.getLogger("app.chat")
LANG = i18n.ui_language(st.session_state)
AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:"}
ANSWER_LANGUAGES = {"auto": "Auto", "es": "Español", "en": "English"}  # same in both UIs
SIDEBAR_TITLE = 32  # characters of a chat title that fit on one line of the sidebar


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


# ---- conversations ---------------------------------------------------------------------


def _open_chat(store: chats.ChatStore, chat_id: str) -> None:
    st.session_state["chat"] = store.load(chat_id) or store.new_chat()


def _new_chat(store: chats.ChatStore) -> None:
    st.session_state["chat"] = store.new_chat()


def _delete_chat(store: chats.ChatStore, chat_id: str) -> None:
    store.delete(chat_id)
    _new_chat(store)


def conversations(store: chats.ChatStore, chat: chats.Chat) -> None:
    """The sidebar list: new chat, then saved chats (the open one highlighted)."""
    with st.sidebar:
        st.button(t("chat.new"), icon=":material/add_comment:", on_click=_new_chat,
                  args=(store,), width="stretch", key="new_chat")
        st.caption(t("chat.conversations"))
        saved = store.list(limit=15)
        if not saved:
            st.caption(t("chat.none_saved"))
        for item in saved:
            current = item["id"] == chat["id"]
            title = item["title"] or t("chat.untitled")
            title = title if len(title) <= SIDEBAR_TITLE else title[: SIDEBAR_TITLE - 1] + "…"
            st.button(i18n.plain(title), key=f"open_{item['id']}", help=i18n.plain(item["title"]),
                      on_click=_open_chat, args=(store, item["id"]), width="stretch",
                      type="secondary" if current else "tertiary")
        if chat["turns"]:
            st.button(t("chat.delete"), icon=":material/delete:", type="tertiary",
                      on_click=_delete_chat, args=(store, chat["id"]), key="delete_chat")


# ---- answering -------------------------------------------------------------------------


def batched(pieces: Iterator[str], seconds: float = 0.08) -> Iterator[str]:
    """Join pieces that arrive within ``seconds``: fewer redraws, same text."""
    buffer, last = [], time.monotonic()
    for piece in pieces:
        buffer.append(piece)
        if time.monotonic() - last >= seconds:
            yield "".join(buffer)
            buffer, last = [], time.monotonic()
    if buffer:
        yield "".join(buffer)


def stream_answer(service: engine.RagService, question: str, history: list[Turn],
                  query: str | None = None) -> Turn | None:
    """Answer ``question`` here, streamed; the finished turn, or ``None`` after an error."""
    documents = st.session_state.get("chat_filter") or None
    try:
        with st.spinner(t("chat.searching")):
            stream = service.ask(question, chats.history(history), documents=documents,
                                 language=st.session_state.get("answer_lang"), query=query)
        st.write_stream(batched(i18n.plain_stream(stream)))
        answer = stream.result()
    except RagError as exc:
        log.warning("question failed: %s", exc)
        st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        return None
    return chats.answer_turn(answer)


def summarize(service: engine.RagService, name: str) -> list[Turn]:
    """Summarize document ``name`` here: map phase with progress, then streamed."""
    request = {"role": "user", "content": t("chat.summary_request", name=name)}
    with st.chat_message("user", avatar=AVATARS["user"]):
        st.markdown(i18n.plain(request["content"]))
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        try:
            with st.status(t("chat.summarizing", name=i18n.plain(name)), expanded=True) as box:
                bar = st.progress(0.0)

                def on_progress(done: int, total: int) -> None:
                    bar.progress(done / total if total else 1.0,
                                 text=t("chat.summary_parts", done=done, total=total))

                stream = service.summarize(name, language=st.session_state.get("answer_lang"),
                                           progress=on_progress)
                box.update(label=t("chat.summary_done", name=i18n.plain(name)),
                           state="complete", expanded=False)
            st.write_stream(batched(i18n.plain_stream(stream)))
            answer = stream.result()
        except RagError as exc:
            log.warning("summary of %s failed: %s", name, exc)
            st.error(i18n.error_message(exc, LANG), icon=":material/error:")
            return []
    return [request, chats.answer_turn(answer, kind="summary")]


def _too_long(service: engine.RagService, prompt: str) -> bool:
    """Say so (without echoing it) when ``prompt`` is over the question length limit."""
    try:
        service.check_question(prompt)
    except RagError as exc:
        st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        return True
    return False


# ---- page ------------------------------------------------------------------------------


def _request_summary() -> None:
    st.session_state["pending"] = {"action": "summarize",
                                   "name": st.session_state.get("summary_doc")}
    st.session_state["summary_popover"] = False  # close it: the summary appears below


def options(service: engine.RagService, names: list[str], searchable: list[str]) -> None:
    """Document filter (own and shared documents), answer language and "summarize this
    document" (own ones)."""
    state = st.session_state
    state["chat_filter"] = [n for n in state.get("chat_filter", []) if n in searchable]
    if state.get("answer_lang") not in ANSWER_LANGUAGES:
        language = service.settings.language
        state["answer_lang"] = language if language in ANSWER_LANGUAGES else "auto"
    left, middle, right = st.columns([3, 1.5, 1.2], vertical_alignment="bottom")
    left.multiselect(t("chat.filter"), searchable, key="chat_filter",
                     format_func=document_label, placeholder=t("chat.filter_all"))
    middle.selectbox(t("chat.answer_language"), list(ANSWER_LANGUAGES), key="answer_lang",
                     format_func=ANSWER_LANGUAGES.__getitem__,
                     help=t("chat.answer_language_help"))
    with right.popover(t("chat.summarize"), icon=":material/summarize:", width="stretch",
                       key="summary_popover", on_change="rerun", disabled=not names):
        st.selectbox(t("chat.summarize_doc"), names, key="summary_doc")
        st.button(t("chat.summarize_go"), type="primary", key="summarize",
                  on_click=_request_summary)


def main() -> None:
    settings = auth.user_settings()
    service = auth.with_shared(st.cache_resource(
        engine.create_service, show_spinner=False, max_entries=1)(settings))
    store = chats.ChatStore(settings.data_dir, settings.library)
    chat: chats.Chat = st.session_state.setdefault("chat", store.new_chat())
    conversations(store, chat)

    st.title(t("app.title"))
    st.caption(t("chat.caption"))
    names = [d.name for d in service.list_documents()]
    searchable = names + ([shared.PREFIX + d.name for d in service.shared.list_documents()]
                          if service.shared is not None else [])
    if searchable:
        options(service, names, searchable)
    else:
        st.info(t("chat.empty"), icon=":material/info:")
        st.page_link("pages/documents.py", label=t("chat.go_documents"),
                     icon=":material/folder_open:")

    pending = st.session_state.pop("pending", None) or {}
    turns: list[Turn] = chat["turns"]
    if searchable and not turns and not pending:
        with st.chat_message("assistant", avatar=AVATARS["assistant"]):
            st.markdown(t("chat.welcome",
                          documents=i18n.count("document", len(searchable), LANG)))
    changed = False
    for index, turn in enumerate(turns):
        with st.chat_message(turn["role"], avatar=AVATARS.get(turn["role"])):
            if turn["role"] == "user":
                st.markdown(i18n.plain(turn["content"]))
            elif (pending.get("action") == "rerun" and pending.get("chat") == chat["id"]
                  and pending.get("index") == index and index > 0):
                new = stream_answer(service, turns[index - 1]["content"], turns[: index - 1],
                                    query=pending.get("query") or None)
                if new is not None:
                    turns[index], changed = new, True
            else:
                render_answer(chat, index, turn)

    if pending.get("action") == "summarize" and pending.get("name") in names:
        added = summarize(service, pending["name"])
        turns += added
        changed = changed or bool(added)

    prompt = st.chat_input(t("chat.input"), disabled=not searchable, key="chat_prompt")
    if prompt and prompt.strip() and _too_long(service, prompt):
        prompt = None
    if prompt and prompt.strip():
        with st.chat_message("user", avatar=AVATARS["user"]):
            st.markdown(i18n.plain(prompt))
        with st.chat_message("assistant", avatar=AVATARS["assistant"]):
            answer = stream_answer(service, prompt, turns)
        if answer is not None:
            turns += [{"role": "user", "content": prompt}, answer]
            changed = True
    if changed:
        store.save(chat)
        st.rerun()


try:
    main()
except Exception as exc:  # never a traceback on screen
    log.exception("chat page failed")
    st.error(i18n.error_message(exc, LANG), icon=":material/error:")
