"""A chat turn as the chat page shows it: the answer with its grounding badge (what the
documents say first when it is not grounded), the citations with file, page and section,
the passages with the supporting sentences in bold, the searched query and the timings.

Everything from a document, a file name or the model goes through ``i18n.plain``: inert
Markdown, never HTML."""

from __future__ import annotations

from typing import Any

import streamlit as st

from rag import chats, i18n, shared
from rag.grounding import GROUNDED_SHARE
from rag.schema import section_label

Turn = dict[str, Any]
HIDDEN_BELOW = 0.5
"""An answer with less of it supported than this is folded away under what the documents
say (its badge stays red and visible)."""


def _lang() -> str:
    return i18n.ui_language(st.session_state)


def t(key: str, **params: object) -> str:
    return i18n.t(key, _lang(), **params)




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
                score = i18n.number(source["score"], _lang(), 2)
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
    # Mostly unsupported, with the documents' own sentences shown instead: the model's
    # text stays one click away, not on screen.
    hidden = share < HIDDEN_BELOW and bool(turn.get("evidence"))
    if not trusted and turn.get("evidence"):
        render_evidence(turn)
        if not hidden:
            st.caption(t("chat.model_text"))
    percent = i18n.number(share * 100, _lang()) + " %"
    st.badge(t("chat.grounding", share=percent), help=t("chat.grounding_help"),
             icon=":material/verified:" if trusted else ":material/report:",
             color="green" if trusted else ("orange" if share >= HIDDEN_BELOW else "red"))
    if not language_ok:
        st.caption(f":material/translate: {t('chat.wrong_language')}")
    unsupported = grounding.get("unsupported") or []
    with (st.expander(t("chat.model_text_hidden"), icon=":material/visibility_off:")
          if hidden else st.container()):
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
        lang = _lang()
        st.caption(":material/timer: " + t(
            key, retrieve=i18n.number(timings["retrieve_ms"], lang),
            first=i18n.number(timings["first_token_ms"] / 1000, lang, 1),
            speed=i18n.number(timings["tokens_per_s"], lang, 1)))
