"""How well an answer is backed by its passages, and what the passages themselves say.

A sentence of the answer is *supported* when most of its content words (accents folded,
words cut to a common stem) occur in one passage. The grounding figure is the share of
supported sentences; sentences too short to judge ("Sí.") do not count. When an answer is
not grounded, :func:`evidence` picks the passage sentences that best match the question,
to show with their citations instead of trusting the model.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rag.schema import Source

SUPPORT_THRESHOLD = 0.6
"""Share of a sentence's content words that must occur in one passage."""
GROUNDED_SHARE = 0.75
"""An answer is grounded when at least this share of its sentences is supported."""
_STEM = 6
_CITATION = re.compile(r"\s*\[\d+(?:\s*[,;-]\s*\d+)*\]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'«(¿¡A-ZÁÉÍÓÚÑ0-9])|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset("""
a al algo alguna algunas alguno algunos ante antes aqui asi aun cada como con contra cual
cuales cuando de del desde donde dos el ella ellas ellos en entre era eran es esa esas ese
eso esos esta estaba estan estas este esto estos fue fueron ha habia han hasta hay la las
le les lo los mas me mi muy nada ni no nos o otra otras otro otros para pero poco por porque
que quien se segun ser si sin sobre son su sus tambien tan te tiene tienen todo todos tu
un una unas uno unos ya y
the a an and or of to in on at by for with from as is are was were be been being it its
this that these those there their they them he she his her we you your our not no but if
then than so such can could would should will may might must do does did has have had
about into over also which who whom what when where why how all any some more most other
according documents document
""".split())


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    supported: bool
    overlap: float  # best share of content words found in one passage
    source_rank: int | None  # that passage's rank (1-based), if any


@dataclass(frozen=True)
class Grounding:
    supported: float  # 0.0-1.0: share of judged sentences that are supported
    unsupported: list[str] = field(default_factory=list)
    sentences: list[SentenceCheck] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return self.supported >= GROUNDED_SHARE

    def as_json(self) -> dict[str, object]:
        return {"supported": round(self.supported, 3), "unsupported": self.unsupported}


@dataclass(frozen=True)
class Evidence:
    """A sentence quoted from a passage, with the passage it comes from."""

    text: str
    source: Source


def fold(text: str) -> str:
    """Lower case without accents."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def meaning_words(text: str) -> set[str]:
    """The words that carry meaning, folded (numbers included, stop words not)."""
    words = _WORD.findall(fold(_CITATION.sub(" ", text)))
    return {w for w in words if (w.isdigit() or len(w) > 2) and w not in _STOPWORDS}


def content_words(text: str) -> set[str]:
    """Stems of :func:`meaning_words` (a common prefix stands for a word's forms)."""
    return {w[:_STEM] for w in meaning_words(text)}


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def check(answer: str, sources: list[Source], abstention: str = "") -> Grounding:
    """The grounding of ``answer`` in ``sources``. The abstention message ("not in the
    documents") is grounded by definition: it claims nothing."""
    if abstention and fold(abstention).strip(" .") in fold(answer):
        return Grounding(supported=1.0)
    passages = [(s.rank, content_words(s.text)) for s in sources]
    checks = []
    for sentence in split_sentences(answer):
        words = content_words(sentence)
        if len(words) < 2:
            continue
        best, rank = 0.0, None
        for source_rank, passage in passages:
            share = len(words & passage) / len(words)
            if share > best:
                best, rank = share, source_rank
        checks.append(SentenceCheck(sentence, best >= SUPPORT_THRESHOLD, round(best, 3), rank))
    if not checks:
        return Grounding(supported=0.0 if answer.strip() and sources else 1.0)
    supported = sum(c.supported for c in checks) / len(checks)
    return Grounding(supported=round(supported, 3),
                     unsupported=[c.text for c in checks if not c.supported],
                     sentences=checks)


def evidence(question: str, sources: list[Source], limit: int = 3) -> list[Evidence]:
    """The passage sentences that share the most content words with ``question``, best
    first (at most ``limit``; none if nothing matches)."""
    wanted = content_words(question)
    if not wanted:
        return []
    scored = []
    for order, source in enumerate(sources):
        for position, sentence in enumerate(split_sentences(source.text)):
            words = content_words(sentence)
            if len(words) < 3 or len(sentence) > 600:
                continue
            hits = len(wanted & words)
            if hits:
                scored.append((-hits / len(wanted), order, position, sentence, source))
    scored.sort(key=lambda item: item[:3])
    return [Evidence(sentence, source) for *_, sentence, source in scored[:limit]]
