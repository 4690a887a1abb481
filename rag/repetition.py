"""End an answer where a small model starts repeating itself.

Small models fall into loops ("Elite. Elite. Elite.", a whole sentence written again);
once a sentence comes round a second time, nothing new follows. The filter ends the answer
before the repeated sentence. It never delays new text: a sentence is held back only while
it still reads like the start of an earlier one, and passed on as soon as it differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from rag.keywords import normalize

_ENDS = frozenset(".!?…")
_NON_WORD = re.compile(r"\W+")


def _key(sentence: str) -> str:
    """A sentence compared by its words alone (case, accents, spacing and marks ignored)."""
    return _NON_WORD.sub(" ", normalize(sentence)).strip()


def stop_repeats(pieces: Iterable[str]) -> Iterator[str]:
    """``pieces`` up to the first sentence that repeats an earlier one (the underlying
    stream is closed there)."""
    seen: set[str] = set()
    current = held = ""  # the sentence being written; its part not passed on yet
    diverged = False  # ``current`` is no longer the start of any earlier sentence
    source = iter(pieces)
    try:
        for piece in source:
            out: list[str] = []
            for char in piece:
                if char == "\n" or (char.isspace() and current[-1:] in _ENDS):
                    key = _key(current)
                    if key and not diverged and key in seen:
                        if out:
                            yield "".join(out)
                        return
                    if key:
                        seen.add(key)
                    out.append(held + char)
                    current = held = ""
                    diverged = False
                    continue
                current += char
                if diverged:
                    out.append(char)
                    continue
                held += char
                key = _key(current)
                if not any(s.startswith(key) for s in seen):
                    diverged = True
                    out.append(held)
                    held = ""
            if out:
                yield "".join(out)
        key = _key(current)
        if held and (diverged or not key or key not in seen):
            yield held
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
