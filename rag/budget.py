"""Fit prompts into the model's context window, leaving room for the reply.

Every prompt the engine sends (the follow-up rewrite, the answer, each summary step) goes
through one of these: the lowest-ranked passages go first, then the oldest turns of the
conversation, then long texts are cut. A prompt that still does not fit raises
:class:`~rag.errors.ContextOverflowError` instead of reaching the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rag.errors import ContextOverflowError
from rag.llm import Message
from rag.schema import Source, Turn

BuildMessages = Callable[[list[Source], list[Turn]], list[Message]]
CountTokens = Callable[[list[Message]], int]
ELLIPSIS = " …"


def cut_to_fit(text: str, over: int, floor: int = 0) -> str:
    """``text`` shortened by about ``over`` tokens (never below ``floor`` characters)."""
    keep = max(floor, min(len(text) - 64, len(text) - (over + 16) * 4))  # ~4 chars a token
    return text[: max(keep, 0)].rstrip() + ELLIPSIS


def _overflow(tokens: int, limit: int) -> ContextOverflowError:
    return ContextOverflowError(
        f"The prompt needs {tokens} tokens; {limit} are available.", tokens=tokens,
        n_ctx=limit)


def fit_prompt(build: BuildMessages, sources: list[Source], history: list[Turn],
               count_tokens: CountTokens,
               limit: int) -> tuple[list[Message], list[Source], list[Turn]]:
    """The largest prompt within ``limit`` tokens, and the passages and history it kept."""
    sources, history = list(sources), list(history)
    messages = build(sources, history)
    while (tokens := count_tokens(messages)) > limit:
        if len(sources) > 1:
            sources.pop()
        elif history:
            history = history[2:] if len(history) > 1 else []
        elif sources and len(sources[0].text) > 400:
            sources[0] = replace(sources[0], text=cut_to_fit(sources[0].text, tokens - limit,
                                                             floor=400))
        elif sources:
            sources = []
        else:
            raise _overflow(tokens, limit)
        messages = build(sources, history)
    return messages, sources, history


def fit_history(build: Callable[[list[Turn]], list[Message]], history: list[Turn],
                count_tokens: CountTokens, limit: int,
                turn_chars: int = 1200) -> list[Message]:
    """A prompt made of ``history`` within ``limit`` tokens: each turn cut to
    ``turn_chars`` characters, then the oldest turns dropped."""
    history = [replace(t, content=t.content[:turn_chars].rstrip() + ELLIPSIS)
               if len(t.content) > turn_chars else t for t in history]
    messages = build(history)
    while (tokens := count_tokens(messages)) > limit:
        if not history:
            raise _overflow(tokens, limit)
        history = history[1:]
        messages = build(history)
    return messages


def fit_text(build: Callable[[str], list[Message]], text: str, count_tokens: CountTokens,
             limit: int) -> list[Message]:
    """A prompt around ``text`` within ``limit`` tokens, ``text`` cut as needed."""
    messages = build(text)
    while (tokens := count_tokens(messages)) > limit:
        if len(text) <= 64:
            raise _overflow(tokens, limit)
        text = cut_to_fit(text.removesuffix(ELLIPSIS), tokens - limit)
        messages = build(text)
    return messages
