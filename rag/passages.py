"""Fit each retrieved passage to a token budget by keeping the sentences that matter to
the question: a shorter prompt is the largest lever on the time to the first token (the
model reads every prompt token before it writes one)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

from rag.grounding import content_words, split_sentences
from rag.schema import Source

GAP = " … "


def focus(text: str, query: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """``text`` if it fits ``budget`` tokens; else its sentences that share the most words
    with ``query`` (in their original order, gaps marked "…"), within the budget. A single
    sentence longer than the budget is cut."""
    if budget <= 0 or count_tokens(text) <= budget:
        return text
    sentences = split_sentences(text)
    wanted = content_words(query)
    ranked = sorted(range(len(sentences)),
                    key=lambda i: (-len(wanted & content_words(sentences[i])), i))
    kept: list[int] = []
    used = 0
    for index in ranked:
        cost = count_tokens(sentences[index]) + 2
        if used + cost <= budget:
            kept.append(index)
            used += cost
    if not kept:  # the best sentence alone is too long: cut it (~4 characters a token)
        best = sentences[ranked[0]] if sentences else text
        return best[: max(budget * 4, 40)].rstrip() + " …"
    kept.sort()
    parts = [sentences[kept[0]]]
    for previous, index in itertools.pairwise(kept):
        parts.append((" " if index == previous + 1 else GAP) + sentences[index])
    return "".join(parts)


def focus_sources(sources: list[Source], query: str, budget: int,
                  count_tokens: Callable[[str], int]) -> list[Source]:
    """:func:`focus` on every passage."""
    if budget <= 0:
        return sources
    return [replace(s, text=focus(s.text, query, budget, count_tokens)) for s in sources]
