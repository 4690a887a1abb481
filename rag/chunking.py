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

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]

CountTokens = Callable[[list[str]], list[int]]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _split(text: str, chunk_chars: int, overlap_chars: int) -> list[str]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max(chunk_chars, 20), chunk_overlap=min(overlap_chars, chunk_chars // 2),
        separators=SEPARATORS, keep_separator="end", strip_whitespace=True)
    return [piece for piece in splitter.split_text(text) if piece.strip()]


class Chunker:
    def __init__(self, count_tokens: CountTokens, chunk_tokens: int = 200,
                 overlap_tokens: int = 24, max_tokens: int = 256) -> None:
        if chunk_tokens <= overlap_tokens:
            raise ValueError("chunk size must be larger than the overlap")
        self.count_tokens = count_tokens
        self.chunk_tokens, self.overlap_tokens = chunk_tokens, overlap_tokens
        self.max_tokens = max(max_tokens, chunk_tokens)

    def split_text(self, text: str) -> list[str]:
        """Pieces of ``text`` of about ``chunk_tokens`` tokens, none over ``max_tokens``."""
        total = self.count_tokens([text])[0]
        if total <= self.chunk_tokens:
            return [text.strip()] if text.strip() else []
        chars_per_token = len(text) / max(total, 1)
        pieces = _split(text, int(self.chunk_tokens * chars_per_token),
                        int(self.overlap_tokens * chars_per_token))
        sized: list[str] = []
        for piece, tokens in zip(pieces, self.count_tokens(pieces), strict=True):
            if tokens <= self.max_tokens:
                sized.append(piece)
            else:  # denser than the section on average: split it at its own ratio
                sized += _split(piece, int(len(piece) * self.chunk_tokens / tokens), 0)
        return sized

    def split(self, document: LoadedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in document.sections:
            for piece in self.split_text(section.text):
                chunks.append(Chunk(text=piece, file_name=document.file_name, page=section.page,
                                    heading=section.heading,
                                    content_hash=text_hash(f"{section.heading}\n{piece}"),
                                    ordinal=len(chunks)))
        return chunks


def embedding_text(chunk: Chunk) -> str:
    """What is embedded: the passage, preceded by its heading path when it has one."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text
