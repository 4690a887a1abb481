"""Split loaded sections into chunks sized in the embedder's own tokens.

Splitting respects paragraphs first, then lines, sentences and words (LangChain's
recursive splitter), and never crosses a section (page or heading) boundary, so every
chunk keeps a single file, page and heading.

Counting tokens for every candidate piece is slow (the splitter measures each word it
merges), so each section is tokenized once and its characters-per-token ratio sizes the
split; the finished chunks are then counted in one batch and any that would exceed the
embedder's input limit is split again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.schema import Chunk, LoadedDocument

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " "]
MAX_HEADING_CHARS = 200
"""A heading path longer than this is cut where it is stored in, and embedded with, every
chunk of its section (a 20,000-word heading once made a 37 KB file take 21 MB)."""

CountTokens = Callable[[list[str]], list[int]]
COUNT_WINDOW_CHARS = 100_000
"""Text is tokenized at most this many characters at a time (only its counts are kept):
tokenizing a 10 MB section in one call held its 5 million ids at once (+240 MB)."""
COUNT_BATCH = 256


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _split(text: str, chunk_chars: int, overlap_chars: int) -> list[str]:
    chunk_chars = max(chunk_chars, 20)
    overlap_chars = min(overlap_chars, chunk_chars // 2)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_chars, chunk_overlap=overlap_chars, separators=SEPARATORS,
        keep_separator="end", strip_whitespace=True)
    pieces = []
    for piece in splitter.split_text(text):
        if len(piece) <= chunk_chars:
            pieces.append(piece)
        else:  # a run without spaces: cut it (splitting it into characters is slow)
            step = chunk_chars - overlap_chars
            pieces += [piece[i : i + chunk_chars] for i in range(0, len(piece), step)
                       if i == 0 or i + overlap_chars < len(piece)]
    return [piece for piece in pieces if piece.strip()]


def clip_heading(heading: str) -> str:
    return heading if len(heading) <= MAX_HEADING_CHARS else \
        heading[: MAX_HEADING_CHARS - 1].rstrip() + "…"


class Chunker:
    def __init__(self, count_tokens: CountTokens, chunk_tokens: int = 200,
                 overlap_tokens: int = 24, max_tokens: int = 256) -> None:
        if chunk_tokens <= overlap_tokens:
            raise ValueError("chunk size must be larger than the overlap")
        self.count_tokens = count_tokens
        self.chunk_tokens, self.overlap_tokens = chunk_tokens, overlap_tokens
        self.max_tokens = max(max_tokens, chunk_tokens)

    def _total_tokens(self, text: str) -> int:
        """Tokens in ``text``, counted window by window (a window's edge may split a word:
        the sum only sizes the split)."""
        return sum(self.count_tokens([text[i : i + COUNT_WINDOW_CHARS]])[0]
                   for i in range(0, max(len(text), 1), COUNT_WINDOW_CHARS))

    def _counts(self, pieces: list[str]) -> list[int]:
        return [n for i in range(0, len(pieces), COUNT_BATCH)
                for n in self.count_tokens(pieces[i : i + COUNT_BATCH])]

    def split_text(self, text: str) -> list[str]:
        """Pieces of ``text`` of about ``chunk_tokens`` tokens, none over ``max_tokens``."""
        total = self._total_tokens(text)
        if total <= self.chunk_tokens:
            return [text.strip()] if text.strip() else []
        chars_per_token = len(text) / max(total, 1)
        pieces = _split(text, int(self.chunk_tokens * chars_per_token),
                        int(self.overlap_tokens * chars_per_token))
        sized: list[str] = []
        for piece, tokens in zip(pieces, self._counts(pieces), strict=True):
            if tokens <= self.max_tokens:
                sized.append(piece)
            else:  # denser than the section on average: split it at its own ratio
                sized += _split(piece, int(len(piece) * self.chunk_tokens / tokens), 0)
        return sized

    def split(self, document: LoadedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in document.sections:
            heading = clip_heading(section.heading)
            for piece in self.split_text(section.text):
                chunks.append(Chunk(text=piece, file_name=document.file_name, page=section.page,
                                    heading=heading, content_hash=text_hash(f"{heading}\n{piece}"),
                                    ordinal=len(chunks)))
        return chunks


def embedding_text(chunk: Chunk) -> str:
    """What is embedded: the passage, preceded by its heading path when it has one."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text
