"""Question answering: search, follow-up rewriting, answers and summaries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from rag import answer_checks, followups, markup, prompts
from rag.answer_language import LanguageOutcome
from rag.budget import fit_history, fit_prompt
from rag.embedding import Embedder
from rag.errors import QuestionTooLongError
from rag.language import resolve_language
from rag.llm import LLM
from rag.passages import focus_sources
from rag.repetition import stop_repeats
from rag.retrieval import hybrid_search
from rag.schema import Answer, Source, Timings, Turn
from rag.settings import Settings
from rag.store import VectorStore

log = logging.getLogger(__name__)

CONDENSE_TOKENS = 64  # room for the rewritten follow-up question


class AnswerStream:
    """Iterate for the answer's text as it is generated; afterwards ``answer`` holds it all.

    ``query``, ``sources`` and ``language`` are known before the first piece arrives."""

    def __init__(self, pieces: Iterable[str], query: str, sources: list[Source], language: str,
                 started: float, retrieve_ms: float, prompt_tokens: int = 0,
                 question: str = "", outcome: LanguageOutcome | None = None) -> None:
        self.query, self.sources, self.language = query, sources, language
        self._pieces, self._started = pieces, started
        self._retrieve_ms, self._prompt_tokens = retrieve_ms, prompt_tokens
        self._question, self._outcome = question, outcome
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        text, count, first = [], 0, None
        for piece in self._pieces:
            if first is None:
                first = time.perf_counter()
            count += 1
            text.append(piece)
            yield piece
        end = time.perf_counter()
        first = first or end
        timings = Timings(
            retrieve_ms=round(self._retrieve_ms, 1),
            first_token_ms=round((first - self._started) * 1000, 1),
            tokens_per_s=round((count - 1) / (end - first), 1) if count > 1 and end > first
            else 0.0,
            total_ms=round((end - self._started) * 1000, 1),
            prompt_tokens=self._prompt_tokens, completion_tokens=count)
        final = "".join(text).strip()
        assessment = answer_checks.assess(
            final, self._question or self.query, self.sources, self.language,
            self._outcome.ok if self._outcome else True) if self.sources else None
        self.answer = Answer(text=final, query=self.query, sources=self.sources,
                             language=self.language, timings=timings, assessment=assessment)

    def result(self) -> Answer:
        """Consume what is left and return the finished answer."""
        if self.answer is None:
            for _ in self:
                pass
        assert self.answer is not None
        return self.answer


class Answering:
    """Question-answering use cases; mixed into :class:`rag.service.RagService` (needs its
    ``settings``, ``library``, ``embedder`` and ``llm``)."""

    settings: Settings
    library: VectorStore
    embedder: Embedder
    llm: LLM
    shared: Answering | None

    def check_question(self, question: str) -> None:
        """Raise :class:`QuestionTooLongError` for a question over the configured length."""
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionTooLongError(
                f"The question is too long ({len(question):,} characters); the limit is "
                f"{limit:,}.", length=len(question), limit=limit)

    def search(self, query: str, k: int | None = None,
               documents: list[str] | None = None) -> list[Source]:
        self.check_question(query)
        if self.shared is not None:
            from rag.shared import search_both

            return search_both(self, self.shared, query, k or self.settings.top_k, documents)
        return hybrid_search(self.library, self.embedder, query, k or self.settings.top_k,
                             documents)

    def standalone_query(self, question: str, history: list[Turn], language: str) -> str:
        """A follow-up question rewritten to stand alone, for retrieval."""
        if not any(t.role == "user" for t in history) or followups.stands_alone(question):
            return question
        recent = history[-4:]
        llm = self.llm
        messages = fit_history(lambda h: prompts.condense_messages(question, h, language),
                               recent, llm.count_message_tokens, llm.n_ctx - CONDENSE_TOKENS)
        rewritten = llm.chat(messages, max_tokens=CONDENSE_TOKENS, temperature=0.0,
                             stop=["\n", *markup.STOP_SEQUENCES])
        return followups.choose_query(markup.clean(rewritten), question, recent,
                                      self._similarity)

    def _similarity(self, first: str, second: str) -> float:
        vectors = self.embedder.embed([first, second])
        return float(vectors[0] @ vectors[1])

    def ask(self, question: str, history: list[Turn] | None = None, k: int | None = None,
            documents: list[str] | None = None, language: str | None = None,
            query: str | None = None) -> AnswerStream:
        """Answer ``question`` from the library. ``query`` overrides the search query."""
        started = time.perf_counter()
        self.check_question(question)
        if query is not None:
            self.check_question(query)
        history = list(history or [])
        language = resolve_language(language or self.settings.language, question)
        query = query or self.standalone_query(question, history, language)
        retrieve_start = time.perf_counter()
        sources = self.search(query, k, documents)
        retrieve_ms = (time.perf_counter() - retrieve_start) * 1000
        if not sources:
            return AnswerStream(iter([prompts.NOT_FOUND[language]]), query, [], language,
                                started, retrieve_ms)
        llm = self.llm
        sources = focus_sources(sources, query, self.settings.passage_tokens, llm.count_tokens)
        limit = llm.n_ctx - self.settings.max_tokens
        # A question that stands alone is answered without the earlier turns: a shorter
        # prompt, and nothing for a small model to copy from its last answer.
        context = [] if followups.stands_alone(question) else history
        messages, sources, _ = fit_prompt(
            lambda s, h: prompts.answer_messages(question, s, h, language),
            sources, context, llm.count_message_tokens, limit)
        pieces, outcome = answer_checks.generate(llm, messages, language,
                                                 self.settings.max_tokens,
                                                 self.settings.temperature)
        return AnswerStream(pieces, query, sources, language, started, retrieve_ms,
                            llm.count_message_tokens(messages), question, outcome)

    def summarize(self, name: str, language: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> AnswerStream:
        """Map-reduce summary: parts that fit the context are summarized (with progress),
        then the partial summaries are combined, streamed."""
        from rag.summaries import summarize_chunks

        started = time.perf_counter()
        chunks = self.library.chunks_of(name)
        language = resolve_language(language or self.settings.language,
                                    " ".join(c.text for c in chunks[:5]))
        pieces = stop_repeats(markup.filter_stream(summarize_chunks(
            self.llm, name, [c.text for c in chunks], language, self.settings.max_tokens,
            progress)))
        return AnswerStream(pieces, name, [], language, started, 0.0)

