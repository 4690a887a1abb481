"""Text from documents, file names, people and the model, made inert for Streamlit's
Markdown: shown exactly as typed, never as links, images, HTML, emphasis or LaTeX, and
without the invisible characters that could make it look like something else."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator

from rag.invisible import strip_invisible

_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
# The Markdown renderer turns bare URLs, www. names and e-mail addresses into links even
# when escaped; a word joiner (U+2060, invisible) after the scheme, "www" or "@" stops it.
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|file|javascript|data)(?=:)|\bwww(?=\.)|@)")
WORD_JOINER = "\u2060"


def plain(text: str) -> str:
    """``text`` as inert Markdown: every ASCII punctuation character is backslash-escaped
    and would-be autolinks are broken, so links, images, HTML, emphasis, LaTeX and
    Streamlit directives show as typed; line breaks are kept. Bidi controls and zero-width
    characters are removed (:func:`~rag.invisible.strip_invisible`), so what shows is what
    is there."""
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, strip_invisible(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")


def plain_stream(pieces: Iterable[str]) -> Iterator[str]:
    """:func:`plain` for streamed text. Text is passed on up to its last whitespace, so
    a URL split across pieces is still recognized; the result equals ``plain`` of the
    whole."""
    pending = ""
    for piece in pieces:
        pending += piece
        cut = max(pending.rfind(" "), pending.rfind("\n"), pending.rfind("\t")) + 1
        if cut:
            yield plain(pending[:cut])
            pending = pending[cut:]
    if pending:
        yield plain(pending)
