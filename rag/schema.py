"""The engine's public data: small, plain dataclasses (no LangChain objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.answer_checks import Assessment


@dataclass(frozen=True)
class Section:
    """A unit of extracted text: a PDF page, or a DOCX/Markdown/text section.

    ``page`` is 1-based for PDFs and ``None`` for formats without pages.
    ``heading`` is the heading path, e.g. ``"Install > Requirements"`` ("" if none).
    """

    text: str
    page: int | None = None
    heading: str = ""


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader returns for one file."""

    file_name: str
    kind: str  # "pdf" | "docx" | "txt" | "md"
    sections: list[Section]
    content_hash: str  # sha256 of the file's bytes
    pages: int  # PDF pages, or number of sections for other formats
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)  # pages read by OCR (1-based)
    ocr_confidence: float = 0.0  # Tesseract's mean word confidence on them, 0-100

    @property
    def text(self) -> str:
        """The whole text, each section's heading before it, PDF pages separated by form
        feeds."""
        parts: list[str] = []
        page, heading = self.sections[0].page if self.sections else None, ""
        for s in self.sections:
            if parts:
                parts.append("\f" if self.kind == "pdf" and s.page != page else "\n\n")
            if s.heading and s.heading != heading:
                parts.append(section_label(s.heading, 0) + "\n\n")
            parts.append(s.text)
            page, heading = s.page, s.heading
        return "".join(parts)

    @property
    def characters(self) -> int:
        return sum(len(s.text) for s in self.sections)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedder."""

    text: str
    file_name: str
    page: int | None
    heading: str
    content_hash: str  # sha256 of heading + text (what is embedded): the embedding cache key
    ordinal: int  # position in the document


@dataclass(frozen=True)
class Source:
    """A retrieved passage with its citation."""

    file_name: str
    page: int | None
    heading: str
    text: str
    score: float  # cosine similarity of passage and query, in [-1, 1]
    rank: int  # 1-based position after fusion
    chunk_id: int = -1

    @property
    def section(self) -> str:
        """The innermost heading of the passage's path ("2.2 Elige el programa"), or ""."""
        return section_label(self.heading)

    @property
    def citation(self) -> str:
        """"manual.pdf, p. 47 · 4.2 Elige el programa"."""
        text = f"{self.file_name}, p. {self.page}" if self.page else self.file_name
        return f"{text} · {self.section}" if self.section else text


HEADING_SEPARATOR = " > "
SECTION_LABEL_CHARS = 80


def section_label(heading: str, limit: int = SECTION_LABEL_CHARS) -> str:
    """The last heading of a heading path, shortened to ``limit`` characters (0: whole)."""
    label = heading.rsplit(HEADING_SEPARATOR, 1)[-1].strip()
    if limit and len(label) > limit:
        label = label[: limit - 1].rstrip() + "…"
    return label


@dataclass(frozen=True)
class DocumentInfo:
    """A document held by a library."""

    name: str
    kind: str
    pages: int
    chunks: int
    characters: int
    content_hash: str
    added_at: str  # ISO-8601, UTC
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """The outcome of ingesting one file."""

    file_name: str
    status: str  # "added" | "replaced" | "skipped" | "failed"
    pages: int = 0
    chunks: int = 0
    characters: int = 0
    seconds: float = 0.0
    embedded: int = 0  # chunks actually embedded (the rest came from the cache)
    warnings: list[str] = field(default_factory=list)
    error: str = ""  # the human message when status == "failed"
    error_code: str = ""  # a stable code the UI can translate
    ocr_pages: list[int] = field(default_factory=list)  # pages read by OCR (1-based)
    ocr_confidence: float = 0.0  # their mean word confidence, 0-100

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass(frozen=True)
class Timings:
    retrieve_ms: float = 0.0
    first_token_ms: float = 0.0
    tokens_per_s: float = 0.0
    total_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Answer:
    """A finished answer with the query that was searched and its sources."""

    text: str
    query: str
    sources: list[Source]
    language: str
    timings: Timings = Timings()
    assessment: Assessment | None = None
    """Grounding, language check and (if not trusted) the documents' own sentences; None
    when there was nothing to answer from."""


@dataclass(frozen=True)
class Turn:
    """One message of chat history."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ModelInfo:
    """A GGUF file the app can run."""

    path: str
    name: str
    size_bytes: int
    quantization: str
    architecture: str
    parameters: str = ""
    context_length: int = 0
    default: bool = False
