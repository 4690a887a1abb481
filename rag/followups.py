"""Judge a follow-up question's rewrite before it is searched.

A question that already stands alone (:func:`stands_alone`) is searched as asked. The
model rewrites the others ("¿Y con NetworkManager?") into a question that stands alone. A small
model sometimes writes nonsense instead; searching that finds nothing useful. A rewrite
is kept only if it is still about the conversation: it shares content words with the
question or the recent turns, or (when an embedding is at hand) it is close to them in
meaning. Otherwise the fallback query is the last question plus the new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.grounding import content_words, fold, meaning_words
from rag.schema import Turn

# Words that point back into the conversation ("¿y eso?", "what about it?"), folded. Not
# "el/la/lo/los/las/le": Spanish articles too; a question that leans on them as pronouns
# ("¿Cómo la instalo?") is short anyway.
_BACK_REFERENCES = frozenset("""
y e eso esto esa ese esos esas aquel aquella aquello ello ella ellos ellas su sus suyo suya
mismo misma anterior anteriores arriba dicho dicha tambien entonces
and it its itself this that these those they them their he she him her his hers such same
above previous former latter also then too
""".split())
# Spanish object pronouns fused to a verb: "instalarlo", "configurándola", "dime".
_CLITIC = re.compile(r"\w{3,}(?:r|ndo)(?:lo|la|los|las|le|les|se)$|^(?:dime|explicame)$")
MIN_ALONE_WORDS = 3
"""Content words a question needs (with no word pointing back) to be searched as it is."""
MIN_SIMILARITY = 0.45
"""Cosine similarity of rewrite and conversation that counts as on topic."""
MIN_LENGTH, MAX_LENGTH = 8, 300

Similarity = Callable[[str, str], float]


def stands_alone(question: str) -> bool:
    """Whether ``question`` says what it is about without the conversation: enough content
    words and none pointing back ("¿Qué hace la orden debuild?" yes; "¿Y cada cuánto se
    cambia?", "How do I install it?", "¿Cómo se configura?" no). Such a question is searched
    as asked: no rewrite (a model call) and no earlier question mixed in."""
    words = re.findall(r"\w+", fold(question))
    if any(w in _BACK_REFERENCES or _CLITIC.match(w) for w in words):
        return False
    return len(content_words(question)) >= MIN_ALONE_WORDS


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
