"""A library: documents, their chunks and vectors, on local disk.

Layout of ``<data_dir>/libraries/<name>/``:

- ``library.sqlite3``: documents, chunks, an embedding cache keyed by chunk hash, and a
  ``generation`` counter bumped by every change (SQLite transactions make each change
  all-or-nothing, even under ``kill -9``);
- ``index.faiss`` + ``index.json``: the FAISS index, written atomically, rebuilt from the
  database when its generation is stale;
- ``files/``: the original uploads, so a library can be re-indexed and nothing is lost.

Writers hold a thread lock and a file lock, so Streamlit sessions (threads) and other
processes (the CLI) can share a library. Readers notice other processes' changes through
the generation counter.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from filelock import FileLock

from rag.bm25 import BM25Index
from rag.errors import DocumentNotFoundError, EmbedderMismatchError, InvalidNameError
from rag.schema import Chunk, DocumentInfo, LoadedDocument
from rag.storage_io import atomic_write_bytes
from rag.vector_index import VectorIndex

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    pages INTEGER NOT NULL, characters INTEGER NOT NULL, content_hash TEXT NOT NULL,
    added_at TEXT NOT NULL, warnings TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL, page INTEGER, heading TEXT NOT NULL, text TEXT NOT NULL,
    content_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id);
CREATE TABLE IF NOT EXISTS embeddings (content_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""

LIBRARY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def library_root(data_dir: str | Path, name: str) -> Path:
    if not LIBRARY_NAME.match(name) or ".." in name:
        raise InvalidNameError(f"Invalid library name '{name}': use letters, digits, '-', '_'.",
                               name=name)
    return Path(data_dir) / "libraries" / name


class Library:
    def __init__(self, root: Path, embedder_name: str, dim: int, adopt: bool = False) -> None:
        """Open (or create) the library at ``root``. If it was indexed by another embedder,
        raise :class:`EmbedderMismatchError`, or with ``adopt`` drop its chunks and vectors
        (documents and originals stay) so that it can be re-indexed."""
        self.root = root
        self.embedder_name, self.dim = embedder_name, dim
        (root / "files").mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._file_lock = FileLock(str(root / "write.lock"))
        self._db = sqlite3.connect(root / "library.sqlite3", check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA secure_delete=ON")  # deleted text is overwritten with zeros
        with self._lock, self._file_lock:
            self._db.executescript(SCHEMA)
        with self._write():
            self._check_embedder(adopt)
        self._generation = -1
        self._vectors = VectorIndex(dim)
        self._keywords = BM25Index()
        self._refresh()

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

    def _meta(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, key: str, value: object) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def _check_embedder(self, adopt: bool) -> None:
        stored, count = self._meta("embedder"), self._count("chunks")
        if stored and stored != self.embedder_name and count and adopt:
            self._db.execute("DELETE FROM chunks")
            self._bump_generation()
        elif stored and stored != self.embedder_name and count:
            raise EmbedderMismatchError(
                f"This library was indexed with the embedder '{stored}', but '"
                f"{self.embedder_name}' is selected. Re-index the library (Documents page, "
                "or `python -m rag reindex`) or select the previous embedder.",
                stored=stored, selected=self.embedder_name)
        if stored != self.embedder_name:
            self._db.execute("DELETE FROM embeddings")
            self._set_meta("embedder", self.embedder_name)
            self._set_meta("dim", self.dim)

    def _count(self, table: str) -> int:
        return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608

    def _bump_generation(self) -> int:
        generation = int(self._meta("generation", "0")) + 1
        self._set_meta("generation", generation)
        return generation

    def _refresh(self) -> None:
        """Reload the in-memory indexes if another process (or a crash) left them stale."""
        with self._lock:
            generation = int(self._meta("generation", "0"))
            if generation == self._generation:
                return
            path = self.root / "index.faiss"
            loaded = VectorIndex.load(path, self.dim, generation)
            rows = self._db.execute(
                "SELECT c.id, c.heading, c.text, e.vector FROM chunks c "
                "JOIN embeddings e ON e.content_hash = c.content_hash").fetchall()
            ids = [r[0] for r in rows]
            if loaded is None:
                loaded = VectorIndex(self.dim)
                if rows:
                    loaded.add(np.asarray(ids),
                               np.vstack([np.frombuffer(r[3], dtype=np.float32) for r in rows]))
                with self._file_lock:  # as writers save: two processes' files never mix
                    if int(self._meta("generation", "0")) == generation:
                        loaded.save(path, generation)
            self._vectors = loaded
            self._keywords = BM25Index()
            self._keywords.add(ids, [f"{r[1]}\n{r[2]}" for r in rows])
            self._generation = generation

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
        """(documents, chunks)."""
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
        """Vectors already computed for these chunk hashes (by this library's embedder)."""
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
        """Store a document, replacing one of the same name.

        Returns ``("added" | "replaced", name)``, or ``("skipped", other)`` when another
        document already holds the same content (checked under the write lock, so two
        sessions uploading the same file at once store it once)."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        original_path = self.root / "files" / f"{document.content_hash}.{document.kind}"
        if not original_path.exists():  # written outside the lock (it may be big)...
            atomic_write_bytes(original_path, original)
        with self._lock, self._file_lock:
            if not original_path.exists():  # ...and again inside: a delete may have removed it
                atomic_write_bytes(original_path, original)
            return self._add_rows(document, chunks, vectors)

    def _add_rows(self, document: LoadedDocument, chunks: list[Chunk],
                  vectors: np.ndarray) -> tuple[str, str]:
        with self._write():
            self._refresh()
            twin = self._db.execute(
                "SELECT name FROM documents WHERE content_hash = ? AND name != ?",
                (document.content_hash, document.file_name)).fetchone()
            if twin:
                return "skipped", twin[0]
            old = self._db.execute("SELECT id, content_hash, kind FROM documents WHERE name = ?",
                                   (document.file_name,)).fetchone()
            removed = self._delete_rows(old[0]) if old else []
            doc_id = self._db.execute(
                "INSERT INTO documents (name, kind, pages, characters, content_hash, added_at, "
                "warnings) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (document.file_name, document.kind, document.pages, document.characters,
                 document.content_hash, datetime.now(UTC).isoformat(timespec="seconds"),
                 json.dumps(document.warnings, ensure_ascii=False))).lastrowid
            ids = []
            for chunk, vector in zip(chunks, vectors, strict=True):
                ids.append(self._db.execute(
                    "INSERT INTO chunks (document_id, ordinal, page, heading, text, content_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (doc_id, chunk.ordinal, chunk.page, chunk.heading, chunk.text,
                     chunk.content_hash)).lastrowid)
                self._db.execute("INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                                 (chunk.content_hash, np.asarray(vector, np.float32).tobytes()))
            generation = self._bump_generation()
            self._vectors.remove(removed)
            self._keywords.remove(removed)
            self._vectors.add(np.asarray(ids), vectors)
            self._keywords.add(ids, [f"{c.heading}\n{c.text}" for c in chunks])
        self._save_index(generation)  # still under the file lock (see _save_index)
        if old:
            self._forget(old[1], old[2])
        return ("replaced" if old else "added"), document.file_name

    def delete_document(self, name: str) -> None:
        with self._lock, self._file_lock:
            with self._write():
                self._refresh()
                row = self._db.execute(
                    "SELECT id, content_hash, kind FROM documents WHERE name = ?",
                    (name,)).fetchone()
                if row is None:
                    raise DocumentNotFoundError(f"No document named '{name}' in this library.",
                                                name=name)
                removed = self._delete_rows(row[0])
                generation = self._bump_generation()
                self._vectors.remove(removed)
                self._keywords.remove(removed)
            self._save_index(generation)
            self._forget(row[1], row[2])

    def _forget(self, content_hash: str, kind: str) -> None:
        """Leave no byte of a deleted or replaced document under the library: its original
        (unless another document has the same content) and the old pages that SQLite's
        write-ahead log still holds. Called after the commit (a crash before it must not
        lose the original) and under the lock (an upload of the same content must not store
        a row without its original). The deleted rows were zeroed by ``secure_delete``."""
        if self.name_with_content(content_hash) is None:
            (self.root / "files" / f"{content_hash}.{kind}").unlink(missing_ok=True)
        busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:  # a reader in another process holds old pages: they go at its next write
            log.info("write-ahead log of %s not truncated: a reader is busy", self.root)

    def _delete_rows(self, doc_id: int) -> list[int]:
        ids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE document_id = ?",
                                              (doc_id,))]
        self._db.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        self._db.execute("DELETE FROM embeddings WHERE content_hash NOT IN "
                         "(SELECT content_hash FROM chunks)")
        return ids

    def _save_index(self, generation: int) -> None:
        """Called after the commit but under the file lock: two processes writing the
        ``.faiss`` and ``.json`` files at once could otherwise leave one's index labelled
        with the other's generation (a stale index trusted as current)."""
        with self._lock, self._file_lock:
            self._generation = generation
            self._vectors.save(self.root / "index.faiss", generation)

    # ---- search ------------------------------------------------------------------------

    def allowed_ids(self, documents: list[str] | None) -> set[int] | None:
        if not documents:
            return None
        marks = ",".join("?" * len(documents))
        with self._lock:
            return {r[0] for r in self._db.execute(
                f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "  # noqa: S608
                f"WHERE d.name IN ({marks})", documents)}

    def dense_search(self, query: np.ndarray, k: int,
                     allowed: set[int] | None) -> list[tuple[int, float]]:
        with self._lock:
            self._refresh()
            return self._vectors.search(query, k, allowed)

    def keyword_search(self, query: str, k: int,
                       allowed: set[int] | None) -> list[tuple[int, float]]:
        with self._lock:
            self._refresh()
            return self._keywords.search(query, k, allowed)

    def vectors(self, ids: list[int]) -> np.ndarray:
        with self._lock:
            return self._vectors.vectors(ids)

    def chunk_rows(self, ids: list[int]) -> dict[int, tuple[str, int | None, str, str]]:
        """chunk id -> (file name, page, heading, text)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT c.id, d.name, c.page, c.heading, c.text FROM chunks c "  # noqa: S608
                f"JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})", ids)
            return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
