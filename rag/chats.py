"""Saved conversations: one plain JSON file per chat under ``<data_dir>/chats/<library>/``.

A chat is a dict (what the app keeps in its session state)::

    {"id": "20250101-120000-1a2b3c", "title": "¿Cuándo murió Tesla?",
     "created": "2025-01-01T12:00:00+00:00", "updated": "...",
     "turns": [{"role": "user", "content": "..."},
               {"role": "assistant", "content": "...", "query": "...", "language": "es",
                "sources": [{"file": ..., "page": ..., ...}], "timings": {...}}]}

Files are written atomically and read with :mod:`json` only (no pickle): a damaged or
foreign file is skipped, never executed.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.library_schema import library_root
from rag.schema import Answer, Turn
from rag.storage_io import atomic_write_text

log = logging.getLogger(__name__)

Chat = dict[str, Any]
CHAT_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
TITLE_CHARS = 60


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ChatStore:
    """The saved chats of one library."""

    def __init__(self, data_dir: str | Path, library: str) -> None:
        library_root(data_dir, library)  # validates the library name (no path tricks)
        self.root = Path(data_dir) / "chats" / library

    def new_chat(self) -> Chat:
        """A fresh, unsaved chat (it is written by the first :meth:`save`)."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        now = _now()
        return {"id": f"{stamp}-{secrets.token_hex(3)}", "title": "", "created": now,
                "updated": now, "turns": []}

    def _path(self, chat_id: str) -> Path:
        if not CHAT_ID.match(chat_id):
            raise ValueError(f"invalid chat id {chat_id!r}")
        return self.root / f"{chat_id}.json"

    def save(self, chat: Chat) -> None:
        """Write ``chat`` (setting its title from the first question and its update time)."""
        if not chat.get("title"):
            first = next((t["content"] for t in chat["turns"] if t["role"] == "user"), "")
            chat["title"] = title_of(first)
        chat["updated"] = _now()
        atomic_write_text(self._path(chat["id"]),
                          json.dumps(chat, ensure_ascii=False, indent=1))

    def load(self, chat_id: str) -> Chat | None:
        """The chat, or ``None`` if it does not exist or cannot be read."""
        try:
            chat = json.loads(self._path(chat_id).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("cannot read chat %s: %s", chat_id, exc)
            return None
        if not isinstance(chat, dict) or not isinstance(chat.get("turns"), list):
            return None
        return chat

    def list(self, limit: int = 50) -> list[Chat]:
        """Saved chats, most recently updated first, without their turns (plus ``size``:
        the number of questions)."""
        summaries = []
        for path in self.root.glob("*.json"):
            chat = self.load(path.stem) if CHAT_ID.match(path.stem) else None
            if chat is None:
                continue
            summaries.append({"id": chat["id"], "title": chat.get("title", ""),
                              "updated": chat.get("updated", ""),
                              "size": sum(t.get("role") == "user" for t in chat["turns"])})
        summaries.sort(key=lambda c: c["updated"], reverse=True)
        return summaries[:limit]

    def delete(self, chat_id: str) -> None:
        self._path(chat_id).unlink(missing_ok=True)

    def forget_document(self, name: str) -> int:
        """Take the passages of document ``name`` out of every saved chat, once it was
        deleted or replaced, so that no copy of its text stays in the data dir; the
        citations stay, marked ``removed``. The number of chats rewritten."""
        changed = 0
        for path in self.root.glob("*.json"):
            chat = self.load(path.stem) if CHAT_ID.match(path.stem) else None
            if chat is not None and _forget_passages(chat, name):
                atomic_write_text(path, json.dumps(chat, ensure_ascii=False, indent=1))
                changed += 1
        return changed


def _forget_passages(chat: Chat, name: str) -> bool:
    touched = False
    for turn in chat["turns"]:
        if not isinstance(turn, dict):
            continue
        for source in turn.get("sources") or []:
            if isinstance(source, dict) and source.get("file") == name and source.get("text"):
                source.update(text="", heading="", removed=True)
                touched = True
        evidence = turn.get("evidence") or []
        kept = [e for e in evidence if not (isinstance(e, dict) and e.get("file") == name)]
        if len(kept) != len(evidence):
            turn["evidence"], touched = kept, True
    return touched


def title_of(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


def answer_turn(answer: Answer, kind: str = "answer") -> dict[str, Any]:
    """An assistant turn (plain data) from a finished answer. ``kind``: answer or summary."""
    return {
        "role": "assistant", "kind": kind, "content": answer.text, "query": answer.query,
        "language": answer.language,
        "sources": [{"file": s.file_name, "page": s.page, "heading": s.heading, "text": s.text,
                     "score": s.score, "rank": s.rank} for s in answer.sources],
        "timings": asdict(answer.timings),
        **_assessment(answer),
    }


def _assessment(answer: Answer) -> dict[str, Any]:
    """The grounding figure, the language check and the documents' own sentences."""
    checked = answer.assessment
    if checked is None:
        return {}
    return {"grounding": checked.grounding.as_json(), "language_ok": checked.language_ok,
            "evidence": [{"text": e.text, "file": e.source.file_name, "page": e.source.page,
                          "rank": e.source.rank} for e in checked.evidence]}


def history(turns: list[dict[str, Any]]) -> list[Turn]:
    """The engine's chat history from saved turns."""
    return [Turn(t["role"], t["content"]) for t in turns
            if t.get("role") in ("user", "assistant") and t.get("content")]


# ---- which sentences of a passage support an answer -----------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'«“(¿¡]?[A-ZÁÉÍÓÚÑ0-9])")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "the and for are was were that this with from have has had not but its his her their "
    "they them which what when where who how also into than then there been more most "
    "los las una unos unas del que con por para como más pero sus era fue son está sobre "
    "entre este esta estos estas ese esa sin también desde hasta donde cuando".split())


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower())
            if (len(w) > 2 or w.isdigit()) and w not in _STOP}


def split_sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(" ".join(paragraph.split())) if s]


def supporting_sentences(passage: str, answer: str,
                         threshold: float = 0.5) -> list[list[tuple[str, bool]]]:
    """The passage as paragraphs of ``(sentence, supports_answer)``.

    A sentence supports the answer when at least ``threshold`` of its content words (and at
    least two of them) appear in the answer: cheap, deterministic, language-agnostic."""
    answer_words = _content_words(answer)
    paragraphs = []
    for block in re.split(r"\n\s*\n|\f", passage):
        sentences = split_sentences(block)
        if not sentences:
            continue
        marked = []
        for sentence in sentences:
            words = _content_words(sentence)
            shared = len(words & answer_words)
            marked.append((sentence, shared >= 2 and shared >= threshold * len(words)))
        paragraphs.append(marked)
    return paragraphs
