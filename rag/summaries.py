"""Map-reduce summaries that respect the model's context window."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rag import prompts
from rag.budget import ELLIPSIS, cut_to_fit, fit_text
from rag.llm import LLM, Message

PROMPT_OVERHEAD_TOKENS = 120
MAP_ANSWER_TOKENS = 160


def _batches(texts: list[str], llm: LLM, budget: int) -> list[str]:
    """Join consecutive texts into pieces of at most ``budget`` tokens (a longer text is cut)."""
    batches: list[str] = []
    current: list[str] = []
    used = 0
    for text in texts:
        tokens = llm.count_tokens(text)
        while tokens > budget:
            text = cut_to_fit(text.removesuffix(ELLIPSIS), tokens - budget)
            tokens = llm.count_tokens(text)
        if current and used + tokens > budget:
            batches.append("\n\n".join(current))
            current, used = [], 0
        current.append(text)
        used += tokens
    if current:
        batches.append("\n\n".join(current))
    return batches


def _fitted(build: Callable[[str, str, str], list[Message]], llm: LLM, name: str, text: str,
            language: str, reply_tokens: int) -> list[Message]:
    """The summary prompt for ``text``, cut to leave ``reply_tokens`` free (a long
    document name can push a full part over the window)."""
    return fit_text(lambda t: build(name, t, language), text, llm.count_message_tokens,
                    llm.n_ctx - reply_tokens)


def summarize_chunks(llm: LLM, name: str, texts: list[str], language: str, max_tokens: int,
                     progress: Callable[[int, int], None] | None = None) -> Iterator[str]:
    """Summarize the parts now (reporting ``progress(done, total)``); return the final,
    combining step as a stream."""
    budget = llm.n_ctx - max(max_tokens, MAP_ANSWER_TOKENS) - PROMPT_OVERHEAD_TOKENS
    notify = progress or (lambda _done, _total: None)
    parts = _batches(texts, llm, budget)
    if not parts:
        return iter([prompts.NOT_FOUND[language]])
    if len(parts) == 1:
        notify(1, 1)
        return llm.stream_chat(_fitted(prompts.summary_map_messages, llm, name, parts[0],
                                       language, max_tokens), max_tokens, 0.2)
    # Map until everything fits in one combining call.
    total, done = len(parts), 0
    notify(done, total)
    while len(parts) > 1:
        summaries = []
        for part in parts:
            summaries.append(llm.chat(_fitted(prompts.summary_map_messages, llm, name, part,
                                              language, MAP_ANSWER_TOKENS),
                                      MAP_ANSWER_TOKENS, 0.2))
            done += 1
            notify(done, total)
        parts = _batches(summaries, llm, budget)
        if len(parts) > 1:
            total += len(parts)
    return llm.stream_chat(_fitted(prompts.summary_reduce_messages, llm, name, parts[0],
                                   language, max_tokens), max_tokens, 0.2)
