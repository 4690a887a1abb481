"""The embedded store: a library of documents, chunks and vectors on local disk.

Layout of ``<data_dir>/libraries/<name>/``:

- ``library.sqlite3``: documents, chunks, their full-text index (FTS5, see
  :mod:`rag.keywords`), an embedding cache keyed by chunk hash, and a log of chunk changes
  (SQLite transactions make each change all-or-nothing, even under ``kill -9``; tables and
  set-up in :mod:`rag.library_schema`);
- ``index-<seq>.faiss`` + ``index.json``: the FAISS index as of change ``seq``; opening
  loads it and applies the later changes (see :mod:`rag.library_index`);
- ``files/``: the original uploads, so a library can be re-indexed and nothing is lost.

Writers hold a thread lock and a file lock, so Streamlit sessions (threads) and other
processes (the CLI) can share a library; readers pick up other processes' changes from the
change log before each search.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from filelock import FileLock

from rag import keywords, library_schema
from rag.errors import DocumentNotFoundError
from rag.library_index import SyncedIndex, change_seq
from rag.library_schema import library_root
from rag.schema import Chunk, DocumentInfo, LoadedDocument
from rag.settings import Settings
from rag.sqlite_readers import ReaderPool
from rag.storage_io import atomic_write_bytes
from rag.store import ChunkRow, LibraryKey, VectorStore

log = logging.getLogger(__name__)

class Library(VectorStore):
    @classmethod
    def open(cls, key: LibraryKey, embedder_name: str, dim: int, settings: Settings,
             adopt: bool = False) -> Library:
        return cls(library_root(key.data_dir, key.name), embedder_name, dim, adopt=adopt,
                   ann_min=settings.ann_min_chunks)

    def __init__(self, root: Path, embedder_name: str, dim: int, adopt: bool = False,
                 ann_min: int = 20_000) -> None:
        """Open (or create) the library at ``root``. If it was indexed by another embedder,
        raise :class:`EmbedderMismatchError`, or with ``adopt`` drop its chunks and vectors
        (documents and originals stay) so that it can be re-indexed."""
        self.root, self.where = root, str(root)
        self.embedder_name, self.dim = embedder_name, dim
        (root / "files").mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._file_lock = FileLock(str(root / "write.lock"))
        self._db = library_schema.connect(root / "library.sqlite3")
        self._readers = ReaderPool(root / "library.sqlite3")
        self._frequencies = keywords.FrequencyCache(change_seq)
        with self._lock, self._file_lock:
            library_schema.create(self._db)
            with self._write():
                library_schema.check_embedder(self._db, embedder_name, dim, adopt)
            self._index = SyncedIndex(root, dim, ann_min)
            self._index.refresh(self._db)
            self._index.save_if_due(self._db)  # a rebuilt index is written once

    # ---- locking and state -------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """Exclusive across threads and processes, inside one SQLite transaction."""
        with self._lock, self._file_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _count(self, table: str) -> int:
        return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608

    def _after_change(self) -> None:
        """After a commit, under the locks: apply it to the index; save that if due."""
        self._index.refresh(self._db)
        self._index.save_if_due(self._db)

    def indexed_ids(self) -> set[int]:
        """The chunk ids the vector index holds once up to date (for consistency checks)."""
        with self._lock:
            self._index.refresh(self._db)
            return self._index.index.ids()

    # ---- documents ---------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT d.name, d.kind, d.pages, COUNT(c.id), d.characters, d.content_hash, "
                "d.added_at, d.warnings FROM documents d LEFT JOIN chunks c "
                "ON c.document_id = d.id GROUP BY d.id ORDER BY d.name COLLATE NOCASE").fetchall()
        return [DocumentInfo(name=r[0], kind=r[1], pages=r[2], chunks=r[3], characters=r[4],
                             content_hash=r[5], added_at=r[6], warnings=json.loads(r[7]))
                for r in rows]

    def stats(self) -> tuple[int, int]:
        with self._lock:
            return self._count("documents"), self._count("chunks")

    def name_with_content(self, content_hash: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT name FROM documents WHERE content_hash = ?",
                                   (content_hash,)).fetchone()
        return row[0] if row else None

    def has_document(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM documents WHERE name = ?",
                                    (name,)).fetchone() is not None

    def original_path(self, name: str) -> Path:
        with self._lock:
            row = self._db.execute("SELECT content_hash, kind FROM documents WHERE name = ?",
                                   (name,)).fetchone()
        if row is None:
            raise DocumentNotFoundError(f"No document named '{name}' in this library.", name=name)
        return self.root / "files" / f"{row[0]}.{row[1]}"

    def read_original(self, name: str) -> bytes:
        return self.original_path(name).read_bytes()

    def chunks_of(self, name: str) -> list[Chunk]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.text, c.page, c.heading, c.content_hash, c.ordinal FROM chunks c "
                "JOIN documents d ON d.id = c.document_id WHERE d.name = ? ORDER BY c.ordinal",
                (name,)).fetchall()
        if not rows and not self.has_document(name):
            raise DocumentNotFoundError(f"No document named '{name}' in this library.", name=name)
        return [Chunk(text=r[0], file_name=name, page=r[1], heading=r[2], content_hash=r[3],
                      ordinal=r[4]) for r in rows]

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                part = hashes[start : start + 500]
                marks = ",".join("?" * len(part))
                for h, blob in self._db.execute(
                        f"SELECT content_hash, vector FROM embeddings WHERE content_hash IN ({marks})",  # noqa: S608, E501
                        part):
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def add_document(self, document: LoadedDocument, chunks: list[Chunk], vectors: np.ndarray,
                     original: bytes) -> tuple[str, str]:
        """See :meth:`VectorStore.add_document`; the duplicate check runs under the write
        lock, so two sessions uploading the same file at once store it once."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        original_path = self.root / "files" / f"{document.content_hash}.{document.kind}"
        if not original_path.exists():  # written outside the lock (it may be big)...
            atomic_write_bytes(original_path, original)
        with self._lock, self._file_lock:
            if not original_path.exists():  # ...and again inside: a delete may have removed it
                atomic_write_bytes(original_path, original)
            with self._write():
                old = self._db.execute("SELECT content_hash, kind FROM documents WHERE name = ?",
                                       (document.file_name,)).fetchone()
                outcome = self._add_rows(document, chunks, vectors)
            self._after_change()
            if old and outcome[0] == "replaced":
                self._forget(old[0], old[1])
            return outcome

    def _add_rows(self, document: LoadedDocument, chunks: list[Chunk],
                  vectors: np.ndarray) -> tuple[str, str]:
        twin = self._db.execute(
            "SELECT name FROM documents WHERE content_hash = ? AND name != ?",
            (document.content_hash, document.file_name)).fetchone()
        if twin:
            return "skipped", twin[0]
        old = self._db.execute("SELECT id FROM documents WHERE name = ?",
                               (document.file_name,)).fetchone()
        if old:
            self._delete_rows(old[0])
        doc_id = self._db.execute(
            "INSERT INTO documents (name, kind, pages, characters, content_hash, added_at, "
            "warnings) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (document.file_name, document.kind, document.pages, document.characters,
             document.content_hash, datetime.now(UTC).isoformat(timespec="seconds"),
             json.dumps(document.warnings, ensure_ascii=False))).lastrowid
        self._db.executemany(
            "INSERT INTO chunks (document_id, ordinal, page, heading, text, content_hash)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((doc_id, c.ordinal, c.page, c.heading, c.text, c.content_hash) for c in chunks))
        self._db.executemany(
            "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
            ((c.content_hash, np.asarray(v, np.float32).tobytes())  # one row at a time
             for c, v in zip(chunks, vectors, strict=True)))
        return ("replaced" if old else "added"), document.file_name

    def delete_document(self, name: str) -> None:
        with self._lock, self._file_lock:
            with self._write():
                row = self._db.execute(
                    "SELECT id, content_hash, kind FROM documents WHERE name = ?",
                    (name,)).fetchone()
                if row is None:
                    raise DocumentNotFoundError(f"No document named '{name}' in this library.",
                                                name=name)
                self._delete_rows(row[0])
            self._after_change()
            self._forget(row[1], row[2])

    def _forget(self, content_hash: str, kind: str) -> None:
        """Leave no byte of a deleted or replaced document under the library: its original
        (unless another document has the same content) and the old pages that SQLite's
        write-ahead log still holds, its words in the full-text index, its vectors in the
        saved vector index. Called after the commit (a crash before it must not
        lose the original) and under the lock (an upload of the same content must not store
        a row without its original). The deleted rows were zeroed by ``secure_delete``."""
        if self.name_with_content(content_hash) is None:
            (self.root / "files" / f"{content_hash}.{kind}").unlink(missing_ok=True)
        with self._write():
            keywords.purge_deleted(self._db)
        self._index.save_if_due(self._db, force=True)  # the saved vectors, rewritten
        busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:  # a reader in another process holds old pages: they go at its next write
            log.info("write-ahead log of %s not truncated: a reader is busy", self.root)

    def _delete_rows(self, doc_id: int) -> None:
        """The document's rows, and its chunks' vectors that no other chunk shares (looked
        up by hash: not a scan of every stored vector, 15 s at 1M chunks)."""
        hashes = [r[0] for r in self._db.execute(
            "SELECT DISTINCT content_hash FROM chunks WHERE document_id = ?", (doc_id,))]
        self._db.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        for start in range(0, len(hashes), 500):
            batch = hashes[start:start + 500]
            self._db.execute(
                f"DELETE FROM embeddings WHERE content_hash IN ({','.join('?' * len(batch))}) "  # noqa: S608
                "AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.content_hash = "
                "embeddings.content_hash)", batch)

    # ---- search ------------------------------------------------------------------------

    def _allowed_ids(self, documents: list[str]) -> set[int]:
        marks = ",".join("?" * len(documents))
        return {r[0] for r in self._db.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "  # noqa: S608
            f"WHERE d.name IN ({marks})", documents)}

    def dense_search(self, query: np.ndarray, k: int,
                     documents: list[str] | None = None) -> list[tuple[int, float]]:
        with self._lock:
            self._index.refresh(self._db)
            allowed = None if documents is None else self._allowed_ids(documents)
            return self._index.index.search(query, k, allowed)

    def keyword_search(self, query: str, k: int,
                       documents: list[str] | None = None) -> list[tuple[int, float]]:
        with self._readers.connection() as db:
            return keywords.keyword_search(db, query, k, documents, self._frequencies)

    def vectors(self, ids: list[int]) -> np.ndarray:
        with self._lock:
            return self._index.index.vectors(ids)

    def chunk_rows(self, ids: list[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._readers.connection() as db:
            rows = db.execute(
                f"SELECT c.id, d.name, c.page, c.heading, c.text FROM chunks c "  # noqa: S608
                f"JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})", ids)
            return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def close(self) -> None:
        self._readers.close()
        with self._lock:
            self._db.close()
