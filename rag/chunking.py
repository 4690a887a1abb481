"""Split loaded sections into chunks sized in the embedder's own tokens.

Splitting respects paragraphs first, then lines, sentences and words (LangChain's
recursive splitter), and never crosses a section (page or heading) boundary, so every
chunk keeps a single file, page and heading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.schema import Chunk, LoadedDocument

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Chunker:
    def __init__(self, count_tokens: Callable[[list[str]], list[int]], chunk_tokens: int = 200,
                 overlap_tokens: int = 24) -> None:
        if chunk_tokens <= overlap_tokens:
            raise ValueError("chunk size must be larger than the overlap")
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            length_function=lambda text: count_tokens([text])[0],
            separators=SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def split(self, document: LoadedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in document.sections:
            for piece in self._splitter.split_text(section.text):
                if not piece.strip():
                    continue
                chunks.append(Chunk(text=piece, file_name=document.file_name, page=section.page,
                                    heading=section.heading,
                                    content_hash=text_hash(f"{section.heading}\n{piece}"),
                                    ordinal=len(chunks)))
        return chunks


def embedding_text(chunk: Chunk) -> str:
    """What is embedded: the passage, preceded by its heading path when it has one."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text
