"""Judge a follow-up question's rewrite before it is searched.

The model rewrites "¿Y con NetworkManager?" into a question that stands alone. A small
model sometimes writes nonsense instead; searching that finds nothing useful. A rewrite
is kept only if it is still about the conversation: it shares content words with the
question or the recent turns, or (when an embedding is at hand) it is close to them in
meaning. Otherwise the fallback query is the last question plus the new one.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.grounding import content_words, meaning_words
from rag.schema import Turn

MIN_SIMILARITY = 0.45
"""Cosine similarity of rewrite and conversation that counts as on topic."""
MIN_LENGTH, MAX_LENGTH = 8, 300

Similarity = Callable[[str, str], float]


def fallback_query(question: str, history: list[Turn]) -> str:
    last_user = next((t.content for t in reversed(history) if t.role == "user"), "")
    return f"{last_user} {question}".strip()


def conversation_text(question: str, history: list[Turn], turns: int = 4) -> str:
    return " ".join([t.content for t in history[-turns:]] + [question])


def on_topic(rewritten: str, question: str, history: list[Turn],
             similarity: Similarity | None = None) -> bool:
    """Whether ``rewritten`` stays about the question and the recent conversation."""
    if not MIN_LENGTH <= len(rewritten) <= MAX_LENGTH:
        return False
    words = content_words(rewritten)
    if not words:
        return False
    # every content word the question brings must survive the rewrite (whole words: a
    # rewrite about "network" has lost "NetworkManager")
    kept = meaning_words(rewritten)
    if any(not any(w.startswith(a[:max(5, len(a) - 3)]) for w in kept)
           for a in meaning_words(question)):
        return False
    context = content_words(conversation_text(question, history))
    shared = len(words & context)
    if shared >= 2 and shared / len(words) >= 0.5:
        return True
    if similarity is not None:
        return similarity(rewritten, conversation_text(question, history)) >= MIN_SIMILARITY
    return False


def choose_query(rewritten: str, question: str, history: list[Turn],
                 similarity: Similarity | None = None) -> str:
    """The rewrite if it is on topic, else :func:`fallback_query`."""
    rewritten = rewritten.strip().strip('"«»“”').strip()
    if on_topic(rewritten, question, history, similarity):
        return rewritten
    return fallback_query(question, history)
