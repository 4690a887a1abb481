"""Make the answer come in the language asked for.

The first words of the streamed answer are held back until there is enough to tell
Spanish from English: three or four words when they are plainly in the wanted language
("El río mide", "The river is"), up to eight otherwise. If they are in the wrong
language, that generation is dropped and the model is asked once more with a firmer
instruction; if the retry is wrong too, its text is passed on and the outcome says so (the
chat then shows what the documents say above it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from rag.language import detect_language, language_evidence
from rag.llm import Message

log = logging.getLogger(__name__)

PROBE_WORDS = 8
"""Words looked at before deciding (fewer if the answer is shorter)."""
EARLY_WORDS = 3
"""From this many words on, two clear signs of the wanted language and none of the other
settle it (each held-back word is ~30 ms of waiting for the first one shown)."""

FIRMER = {
    "es": "Responde únicamente en español, aunque los documentos estén en otro idioma.",
    "en": "Answer only in English, even if the documents are in another language.",
}


@dataclass
class LanguageOutcome:
    """Filled in as the answer streams: how many generations it took and whether the
    final one is in the wanted language."""

    wanted: str
    attempts: int = 0
    ok: bool = True


def firmer_messages(messages: list[Message], language: str) -> list[Message]:
    """``messages`` with the firmer instruction appended to the last user message (the
    system prompt, a cached prefix, is left as it is)."""
    changed = [dict(m) for m in messages]
    for message in reversed(changed):
        if message["role"] == "user":
            message["content"] = f"{message['content']}\n\n{FIRMER[language]}"
            break
    return changed


def in_language(text: str, language: str) -> bool:
    """Whether ``text`` reads as ``language``; too little text to tell counts as yes."""
    if len(text.split()) < 3:
        return True
    return detect_language(text, default=language) == language


def plainly_in(text: str, language: str) -> bool:
    """``text`` has at least :data:`EARLY_WORDS` words, two signs of ``language`` and none
    of the other."""
    if len(text.split()) < EARLY_WORDS:
        return False
    spanish, english = language_evidence(text)
    wanted, other = (spanish, english) if language == "es" else (english, spanish)
    return wanted >= 2 and other == 0


def _probe(pieces: Iterator[str], language: str) -> tuple[list[str], bool]:
    """Read ``pieces`` until the language is plain or ``PROBE_WORDS`` words are read (or
    the end): (pieces read, ended)."""
    read: list[str] = []
    for piece in pieces:
        read.append(piece)
        text = "".join(read)
        if len(text.split()) > PROBE_WORDS or plainly_in(text, language):
            return read, False
    return read, True


def _close(pieces: Iterable[str]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def guard_language(first: Iterable[str], language: str,
                   retry: Callable[[], Iterable[str]], outcome: LanguageOutcome
                   ) -> Iterator[str]:
    """The answer from ``first``, or from ``retry()`` if ``first`` starts in the wrong
    language. ``outcome`` records what happened."""
    stream = iter(first)
    outcome.attempts = 1
    head, ended = _probe(stream, language)
    if not in_language("".join(head), language):
        log.info("answer began in the wrong language (%r); retrying", "".join(head)[:60])
        _close(stream)
        stream = iter(retry())
        outcome.attempts = 2
        head, ended = _probe(stream, language)
    outcome.ok = in_language("".join(head), language)
    yield from head
    if not ended:
        yield from stream
