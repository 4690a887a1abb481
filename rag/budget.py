"""Fit a prompt into the model's context: system + history + passages + question must
leave ``max_tokens`` free for the answer. The lowest-ranked passages go first, then the
oldest history; a single passage still too long is cut."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rag.llm import Message
from rag.schema import Source, Turn

BuildMessages = Callable[[list[Source], list[Turn]], list[Message]]


def fit_prompt(build: BuildMessages, sources: list[Source], history: list[Turn],
               count_tokens: Callable[[list[Message]], int],
               limit: int) -> tuple[list[Message], list[Source], list[Turn]]:
    """The largest prompt within ``limit`` tokens, and the passages and history it kept."""
    sources, history = list(sources), list(history)
    messages = build(sources, history)
    while count_tokens(messages) > limit:
        if len(sources) > 1:
            sources.pop()
        elif history:
            history = history[2:] if len(history) > 1 else []
        elif sources and len(sources[0].text) > 400:
            over = count_tokens(messages) - limit
            text = sources[0].text
            keep = min(len(text) - 64, max(400, len(text) - (over + 16) * 4))  # ~4 chars a token
            sources[0] = replace(sources[0], text=text[:keep].rstrip() + " …")
        elif sources:
            sources = []
        else:
            break  # the question alone exceeds the budget: let the model truncate it
        messages = build(sources, history)
    return messages, sources, history
