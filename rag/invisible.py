"""Characters that change how text looks or is searched without being seen: byte-order marks,
zero-width spaces and joiners, and bidirectional controls. A right-to-left override shows
"00.000.1" as "1.000.00"; a zero-width space inside "contraseña" hides it from search.

:func:`strip_invisible` removes them from extracted text, headings, names and everything shown
on screen. Zero-width (non-)joiners are kept only between letters of scripts that need them
(Persian, Indic, emoji sequences), never next to a Latin, Greek or Cyrillic letter or a digit.
"""

from __future__ import annotations

import re

# BOM / zero-width no-break space, zero-width space, word joiner and invisible operators,
# Mongolian vowel separator, Arabic letter mark, LRM/RLM, bidi embeddings, overrides and
# isolates, interlinear annotation marks.
_ALWAYS = ("\ufeff\u200b\u2060\u2061\u2062\u2063\u2064\u180e\u061c\u200e\u200f"
           "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufff9\ufffa\ufffb")
_ALWAYS_RE = re.compile(f"[{_ALWAYS}]")
_JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner
# A joiner is kept only when both neighbours are outside ASCII, Latin-1/Extended, Greek
# and Cyrillic (where no word needs one).
_SPLITTING_JOINER = re.compile(
    "(?:(?<=[\\x00-\\u024f\\u0370-\\u052f])[\u200c\u200d]+)"
    "|(?:[\u200c\u200d]+(?=[\\x00-\\u024f\\u0370-\\u052f]|$))"
    "|(?:^[\u200c\u200d]+)", re.MULTILINE)
INVISIBLE = _ALWAYS + _JOINERS
_ANY = re.compile(f"[{INVISIBLE}]")


def strip_invisible(text: str) -> str:
    """``text`` without byte-order marks, zero-width characters and bidi controls."""
    if not _ANY.search(text):
        return text
    return _SPLITTING_JOINER.sub("", _ALWAYS_RE.sub("", text))
