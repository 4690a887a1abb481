"""The engine's public data: small, plain dataclasses (no LangChain objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.answering import Assessment


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

    @property
    def text(self) -> str:
        """The whole text, PDF pages separated by form feeds."""
        sep = "\f" if self.kind == "pdf" else "\n\n"
        return sep.join(s.text for s in self.sections)

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
    def citation(self) -> str:
        return f"{self.file_name}, p. {self.page}" if self.page else self.file_name


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
