"""The answer's generation and its checks, on plain inputs (any :class:`~rag.llm.LLM`):
stop sequences, the markup filter and the end of loops, the language guard with one firmer
retry, then the grounding figure and, when the answer cannot be trusted, what the documents say."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rag import grounding, markup
from rag.answer_language import LanguageOutcome, firmer_messages, guard_language
from rag.llm import LLM, Message
from rag.prompts import NO_ANSWER, NOT_FOUND
from rag.repetition import stop_repeats
from rag.schema import Source


def generate(llm: LLM, messages: list[Message], language: str, max_tokens: int,
             temperature: float) -> tuple[Iterator[str], LanguageOutcome]:
    """The answer's pieces, free of prompt markup and in ``language`` if the model can;
    the outcome is complete once the pieces are consumed."""
    outcome = LanguageOutcome(language)

    def run(prompt: list[Message]) -> Iterator[str]:
        return stop_repeats(markup.filter_stream(llm.stream_chat(
            prompt, max_tokens, temperature, stop=markup.STOP_SEQUENCES)))

    pieces = guard_language(run(messages), language,
                            lambda: run(firmer_messages(messages, language)), outcome)
    return _never_empty(pieces, language), outcome


def _never_empty(pieces: Iterator[str], language: str) -> Iterator[str]:
    """``pieces``, or the "no answer" message when they hold no visible text."""
    said = False
    for piece in pieces:
        said = said or bool(piece.strip())
        yield piece
    if not said:
        yield NO_ANSWER[language]


@dataclass(frozen=True)
class Assessment:
    grounding: grounding.Grounding
    language_ok: bool = True
    evidence: list[grounding.Evidence] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.grounding.grounded and self.language_ok


def assess(text: str, question: str, sources: list[Source], language: str,
           language_ok: bool = True) -> Assessment:
    """Grounding of ``text`` in ``sources``; if it is not grounded or not in ``language``,
    the passage sentences that answer ``question`` best."""
    checked = grounding.check(text, sources, NOT_FOUND.get(language, ""))
    trusted = checked.grounded and language_ok
    return Assessment(checked, language_ok,
                      [] if trusted else grounding.evidence(question, sources))
