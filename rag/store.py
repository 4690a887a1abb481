"""The vector-store interface (a library: documents, chunks, vectors, originals) and the
registry that picks its backend from the settings.

A new backend is one new module with a :class:`VectorStore` subclass plus one line in
:data:`BACKENDS`. Libraries are keyed by :class:`LibraryKey`: the embedded store maps it
onto ``<data_dir>/libraries/<name>/``, a database backend onto rows of its tables, so that
per-user data dirs (``<data_dir>/users/<id>/``) stay apart in both.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.schema import Chunk, DocumentInfo, LoadedDocument
from rag.settings import Settings

ChunkRow = tuple[str, int | None, str, str]  # (file name, page, heading, text)


@dataclass(frozen=True)
class LibraryKey:
    """Which library: ``data_dir`` (a user's or the app's) and the library ``name``."""

    data_dir: str
    name: str

    @property
    def namespace(self) -> str:
        """The owner, as a database backend stores it (machine paths differ between servers;
        this does not): the data dir relative to the app's root data dir (``""`` for the
        root itself, ``users/<id>``, ``shared``); for a data dir elsewhere, ``users/<id>`` or
        ``shared`` by its last parts, else ``""``."""
        path = Path(self.data_dir).resolve()
        root = Path(os.environ.get("RAG_DATA_DIR") or Settings.data_dir).resolve()
        if path == root or root in path.parents:
            return path.relative_to(root).as_posix().removeprefix(".")
        if path.parent.name == "users":
            return f"users/{path.name}"
        return "shared" if path.name == "shared" else ""


class VectorStore(ABC):
    """One library. Every method is safe to call from several threads, and changes made
    by other processes sharing the library are seen by the next call."""

    embedder_name: str
    dim: int
    where: str  # where the data lives, for people: a folder or a database host

    # ---- documents -------------------------------------------------------------------
    @abstractmethod
    def documents(self) -> list[DocumentInfo]: ...

    @abstractmethod
    def stats(self) -> tuple[int, int]:
        """(documents, chunks)."""

    @abstractmethod
    def name_with_content(self, content_hash: str) -> str | None:
        """The document holding a file with this sha256, if any."""

    @abstractmethod
    def has_document(self, name: str) -> bool: ...

    @abstractmethod
    def read_original(self, name: str) -> bytes:
        """The uploaded file's bytes (for re-indexing and download)."""

    @abstractmethod
    def chunks_of(self, name: str) -> list[Chunk]: ...

    @abstractmethod
    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for these chunk hashes (by this library's embedder)."""

    @abstractmethod
    def add_document(self, document: LoadedDocument, chunks: list[Chunk], vectors: np.ndarray,
                     original: bytes) -> tuple[str, str]:
        """Store a document atomically, replacing one of the same name. Returns
        ``("added" | "replaced", name)`` or ``("skipped", other)`` when ``other`` already
        holds the same content."""

    @abstractmethod
    def delete_document(self, name: str) -> None: ...

    # ---- search ------------------------------------------------------------------------
    @abstractmethod
    def dense_search(self, query: np.ndarray, k: int,
                     documents: list[str] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest chunk ids (cosine, best first), only in ``documents`` if given."""

    @abstractmethod
    def keyword_search(self, query: str, k: int,
                       documents: list[str] | None = None) -> list[tuple[int, float]]:
        """The ``k`` best chunk ids by full-text rank (best first)."""

    @abstractmethod
    def vectors(self, ids: list[int]) -> np.ndarray:
        """One row per id (zeros for an id deleted meanwhile)."""

    @abstractmethod
    def chunk_rows(self, ids: list[int]) -> dict[int, ChunkRow]:
        """chunk id -> (file name, page, heading, text), for the ids that still exist."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections and files."""

    @classmethod
    def delete_namespace(cls, settings: Settings, namespace: str) -> int:
        """Delete every library of ``namespace`` (see :attr:`LibraryKey.namespace`: an
        account being deleted); returns how many. A store keeping its libraries in files
        under the data dir has nothing to do (they go with the folder)."""
        return 0


# name -> "module:Class"; imported only when selected.
BACKENDS = {
    "embedded": "rag.library:Library",
    "postgres": "rag.pg_store:PostgresLibrary",
}


def backend_name(database_url: str) -> str:
    """``postgres`` for a ``postgresql://`` URL, else the embedded store."""
    return "postgres" if database_url.startswith(("postgresql://", "postgres://")) \
        else "embedded"


def backend_class(name: str) -> type[VectorStore]:
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
