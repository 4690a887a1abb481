"""Tell Spanish from English, cheaply and offline (enough to pick the answer language)."""

from __future__ import annotations

import re

_SPANISH = frozenset(
    "el la los las un una unos unas de del al que qué en y o es son está están fue por para "
    "con sin sobre cómo como cuál cuáles cuándo cuando dónde donde quién quiénes porque "
    "se su sus lo le les este esta estos estas ese esa hay muy más también pero año años".split()
)
_ENGLISH = frozenset(
    "the a an of and or is are was were to in on for with without about how what which when "
    "where who whom why does do did this that these those there it its be been has have had "
    "can could would should will not but also more year years".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def language_evidence(text: str) -> tuple[int, int]:
    """Points for Spanish and for English: function words, and Spanish letters and marks."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    spanish = sum(w in _SPANISH for w in words) + 2 * sum(c in "¿¡ñáéíóú" for c in lowered)
    return spanish, sum(w in _ENGLISH for w in words)


def detect_language(text: str, default: str = "es") -> str:
    """``"es"`` or ``"en"``; ties (and empty text) give ``default``."""
    spanish, english = language_evidence(text)
    if spanish == english:
        return default
    return "es" if spanish > english else "en"


def resolve_language(requested: str | None, text: str) -> str:
    """The answer language: ``es``/``en`` as asked, or the text's own for ``auto``/None."""
    if requested in ("es", "en"):
        return requested
    return detect_language(text)
