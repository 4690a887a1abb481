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
from typing import Any

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

import accounts_ui
from rag import chats, i18n, shared
from rag import service as engine
from rag.errors import RagError
from rag.grounding import GROUNDED_SHARE
from rag.schema import section_label

if PagesManager.uses_pages_directory:  # run without the router: see app.py
    PagesManager.uses_pages_directory = False
    st.rerun()

log = logging.getLogger("app.chat")
LANG = i18n.ui_language(st.session_state)
AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:"}
ANSWER_LANGUAGES = {"auto": "Auto", "es": "Español", "en": "English"}  # same in both UIs
SIDEBAR_TITLE = 32  # characters of a chat title that fit on one line of the sidebar

Turn = dict[str, Any]


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


# ---- rendering -------------------------------------------------------------------------


def highlighted(passage: str, answer: str) -> str:
    """The passage as inert Markdown with the sentences that support the answer in bold."""
    return "\n\n".join(
        " ".join(f"**{i18n.plain(s)}**" if supports else i18n.plain(s) for s, supports in para)
        for para in chats.supporting_sentences(passage, answer))


def document_label(name: str) -> str:
    """A document's name as shown; shared ones are marked (see ``rag.shared``)."""
    if shared.is_shared(name):
        return f"{t('chat.shared_prefix')} · {name.removeprefix(shared.PREFIX)}"
    return name


def _citation(source: dict[str, Any]) -> str:
    """"[1] manual.pdf, p. 47 · 4.2 Elige el programa" (section: the heading path's last)."""
    text = f"[{source['rank']}] {i18n.plain(document_label(source['file']))}"
    text += f", {t('chat.page', page=source['page'])}" if source.get("page") else ""
    section = section_label(source.get("heading") or "")
    return text + (f" · {i18n.plain(section)}" if section else "")


def render_sources(turn: Turn) -> None:
    sources = turn.get("sources") or []
    if not sources:
        if turn.get("kind") != "summary":
            st.caption(f":material/search_off: {t('chat.no_sources')}")
        return
    st.caption(f":material/description: **{t('chat.sources')}:** "
               + " · ".join(_citation(s) for s in sources))
    with st.expander(t("chat.passages", count=len(sources)), icon=":material/format_quote:"):
        for source in sources:
            with st.container(border=True):
                score = i18n.number(source["score"], LANG, 2)
                head = f"**{_citation(source)}** · {t('chat.score', score=score)}"
                if source.get("heading"):
                    head += f"  \n_{i18n.plain(source['heading'])}_"
                st.markdown(head)
                if source.get("removed"):
                    st.caption(f":material/delete: {t('chat.passage_removed')}")
                else:
                    st.markdown(highlighted(source["text"], turn["content"]))


def _request_rerun(chat_id: str, index: int, key: str) -> None:
    st.session_state["pending"] = {"action": "rerun", "chat": chat_id, "index": index,
                                   "query": st.session_state.get(key, "")}


def marked(text: str, unsupported: list[str]) -> str:
    """``text`` as inert Markdown with the ``unsupported`` sentences highlighted."""
    parts, cursor = [], 0
    for sentence in unsupported:
        at = text.find(sentence, cursor)
        if at < 0:
            continue
        parts.append(i18n.plain(text[cursor:at]))
        parts.append(f":orange-background[{i18n.plain(sentence)}]")
        cursor = at + len(sentence)
    parts.append(i18n.plain(text[cursor:]))
    return "".join(parts)


def render_evidence(turn: Turn) -> None:
    """What the documents say: their own sentences, cited, above an untrusted answer."""
    with st.container(border=True):
        st.markdown(f":material/fact_check: **{t('chat.documents_say')}**")
        for item in turn["evidence"]:
            st.markdown(f"> {i18n.plain(item['text'])}  \n> — {_citation(item)}")


def render_text(turn: Turn) -> None:
    """The answer with its grounding badge; if it is not grounded or in the wrong
    language, what the documents say comes first."""
    grounding = turn.get("grounding")
    if grounding is None or turn.get("kind") == "summary":
        st.markdown(i18n.plain(turn["content"]))
        return
    share = float(grounding.get("supported", 0.0))
    language_ok = turn.get("language_ok", True)
    trusted = share >= GROUNDED_SHARE and language_ok
    if not trusted and turn.get("evidence"):
        render_evidence(turn)
        st.caption(t("chat.model_text"))
    percent = i18n.number(share * 100, LANG) + " %"
    st.badge(t("chat.grounding", share=percent), help=t("chat.grounding_help"),
             icon=":material/verified:" if trusted else ":material/report:",
             color="green" if trusted else ("orange" if share >= 0.5 else "red"))
    if not language_ok:
        st.caption(f":material/translate: {t('chat.wrong_language')}")
    unsupported = grounding.get("unsupported") or []
    st.markdown(marked(turn["content"], unsupported))
    if unsupported:
        st.caption(t("chat.unsupported_legend"))


def render_answer(chat: chats.Chat, index: int, turn: Turn) -> None:
    render_text(turn)
    render_sources(turn)
    if turn.get("kind") != "summary":
        key = f"query_{chat['id']}_{index}"
        with st.expander(f"{t('chat.query')}: {i18n.plain(turn['query'])}",
                         icon=":material/manage_search:"):
            st.caption(t("chat.query_help"))
            st.text_input(t("chat.query"), value=turn["query"], key=key,
                          label_visibility="collapsed")
            st.button(t("chat.rerun"), icon=":material/refresh:", key=f"rerun_{key}",
                      on_click=_request_rerun, args=(chat["id"], index, key))
    timings = turn.get("timings") or {}
    if timings.get("total_ms"):
        key = "chat.timings_summary" if turn.get("kind") == "summary" else "chat.timings"
        st.caption(":material/timer: " + t(
            key, retrieve=i18n.number(timings["retrieve_ms"], LANG),
            first=i18n.number(timings["first_token_ms"] / 1000, LANG, 1),
            speed=i18n.number(timings["tokens_per_s"], LANG, 1)))


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
    settings = accounts_ui.user_settings()
    service = accounts_ui.with_shared(st.cache_resource(
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
