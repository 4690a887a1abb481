"""The PostgreSQL + pgvector store (``RAG_DATABASE_URL=postgresql://...``).

Documents, originals and chunks live in tables (:mod:`rag.pg_schema`), vectors in pgvector
with an HNSW index per embedding dimension, keyword search in PostgreSQL full-text search
(Spanish and English configurations, accents removed). Nothing is cached in the process:
every app process pointed at the database sees the others' changes at once. Writers of one
library are serialized by a row lock on it (the embedded store's file lock).
"""

from __future__ import annotations

import json
import logging
import queue
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from rag import pg_keywords, pg_schema
from rag.errors import DocumentNotFoundError, EmbedderMismatchError
from rag.library_schema import check_library_name
from rag.schema import Chunk, DocumentInfo, LoadedDocument
from rag.settings import Settings
from rag.store import ChunkRow, LibraryKey, VectorStore

log = logging.getLogger(__name__)

POOL_SIZE = 4
EF_SEARCH = 100
INSERT_CHUNK = (
    "INSERT INTO rag_chunks (library_id, document_id, ordinal, page, heading, text, "
    "content_hash, dim, embedding, tsv) VALUES (%(lib)s, %(doc)s, %(ordinal)s, %(page)s, "
    "%(heading)s, %(text)s, %(hash)s, %(dim)s, %(vector)s, to_tsvector('spanish', "
    "unaccent(%(t)s)) || to_tsvector('english', unaccent(%(t)s)))")
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


class PostgresLibrary(VectorStore):
    @classmethod
    def open(cls, key: LibraryKey, embedder_name: str, dim: int, settings: Settings,
             adopt: bool = False) -> PostgresLibrary:
        return cls(settings.database_url, key, embedder_name, dim, adopt=adopt)

    def __init__(self, url: str, key: LibraryKey, embedder_name: str, dim: int,
                 adopt: bool = False) -> None:
        import psycopg  # noqa: F401 - fail here, clearly, if the driver is missing

        self._url, self.embedder_name, self.dim = url, embedder_name, int(dim)
        self.where = pg_schema.where(url)
        self._pool: queue.LifoQueue = queue.LifoQueue()
        with self._connection() as conn:
            pg_schema.migrate_once(conn, url)
            conn.execute(pg_schema.vector_index_sql(self.dim))
            self._id = self._library_id(conn, key.namespace, check_library_name(key.name), adopt)

    # ---- connections -------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.closed or conn.info.transaction_status != _IDLE \
                    or self._pool.qsize() >= POOL_SIZE:
                conn.close()  # broken, mid-transaction or surplus: never handed out again
            else:
                self._pool.put(conn)

    def _connect(self):
        return pg_schema.connect(self._url)

    @classmethod
    def delete_namespace(cls, settings: Settings, namespace: str) -> int:
        """Delete the namespace's libraries; their documents, originals and chunks go with
        them (``ON DELETE CASCADE``)."""
        conn = pg_schema.connect(settings.database_url)
        try:
            pg_schema.migrate_once(conn, settings.database_url)
            with conn.transaction():
                deleted = conn.execute("DELETE FROM rag_libraries WHERE namespace = %s "
                                       "RETURNING id", (namespace,)).fetchall()
        finally:
            conn.close()
        if deleted:
            log.info("deleted %d libraries of %r from the database", len(deleted), namespace)
        return len(deleted)

    @contextmanager
    def _write(self) -> Iterator:
        """One transaction holding this library's row lock (writers take turns)."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT 1 FROM rag_libraries WHERE id = %s FOR UPDATE", (self._id,))
            yield conn

    def _library_id(self, conn, namespace: str, name: str, adopt: bool) -> int:
        with conn.transaction():
            conn.execute("INSERT INTO rag_libraries (namespace, name, embedder, dim) "
                         "VALUES (%s, %s, %s, %s) ON CONFLICT (namespace, name) DO NOTHING",
                         (namespace, name, self.embedder_name, self.dim))
            library_id, stored = conn.execute(
                "SELECT id, embedder FROM rag_libraries WHERE namespace = %s AND name = %s "
                "FOR UPDATE", (namespace, name)).fetchone()
            if stored != self.embedder_name:
                chunks = conn.execute("SELECT COUNT(*) FROM rag_chunks WHERE library_id = %s",
                                      (library_id,)).fetchone()[0]
                if chunks and not adopt:
                    raise EmbedderMismatchError(
                        f"This library was indexed with the embedder '{stored}', but '"
                        f"{self.embedder_name}' is selected. Re-index the library (Documents "
                        "page, or `python -m rag reindex`) or select the previous embedder.",
                        stored=stored, selected=self.embedder_name)
                conn.execute("DELETE FROM rag_chunks WHERE library_id = %s", (library_id,))
                conn.execute("UPDATE rag_libraries SET embedder = %s, dim = %s WHERE id = %s",
                             (self.embedder_name, self.dim, library_id))
        return int(library_id)

    def _one(self, sql: str, params: tuple) -> tuple | None:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple) -> list[tuple]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    # ---- documents ---------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        rows = self._all(
            "SELECT d.name, d.kind, d.pages, COUNT(c.id), d.characters, d.content_hash, "
            "to_char(d.added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS+00:00'), "
            "d.warnings FROM rag_documents d LEFT JOIN rag_chunks c ON c.document_id = d.id "
            "WHERE d.library_id = %s GROUP BY d.id ORDER BY lower(d.name)", (self._id,))
        return [DocumentInfo(name=r[0], kind=r[1], pages=r[2], chunks=r[3], characters=r[4],
                             content_hash=r[5], added_at=r[6], warnings=list(r[7]))
                for r in rows]

    def stats(self) -> tuple[int, int]:
        row = self._one("SELECT (SELECT COUNT(*) FROM rag_documents WHERE library_id = %s), "
                        "(SELECT COUNT(*) FROM rag_chunks WHERE library_id = %s)",
                        (self._id, self._id))
        return int(row[0]), int(row[1])

    def name_with_content(self, content_hash: str) -> str | None:
        row = self._one("SELECT name FROM rag_documents WHERE library_id = %s AND "
                        "content_hash = %s LIMIT 1", (self._id, content_hash))
        return row[0] if row else None

    def has_document(self, name: str) -> bool:
        return self._one("SELECT 1 FROM rag_documents WHERE library_id = %s AND name = %s",
                         (self._id, name)) is not None

    def read_original(self, name: str) -> bytes:
        row = self._one("SELECT o.data FROM rag_documents d JOIN rag_originals o ON "
                        "o.library_id = d.library_id AND o.content_hash = d.content_hash AND "
                        "o.kind = d.kind WHERE d.library_id = %s AND d.name = %s",
                        (self._id, name))
        if row is None:
            raise DocumentNotFoundError(f"No document named '{name}' in this library.", name=name)
        return bytes(row[0])

    def chunks_of(self, name: str) -> list[Chunk]:
        rows = self._all("SELECT c.text, c.page, c.heading, c.content_hash, c.ordinal FROM "
                         "rag_chunks c JOIN rag_documents d ON d.id = c.document_id WHERE "
                         "d.library_id = %s AND d.name = %s ORDER BY c.ordinal", (self._id, name))
        if not rows and not self.has_document(name):
            raise DocumentNotFoundError(f"No document named '{name}' in this library.", name=name)
        return [Chunk(text=r[0], file_name=name, page=r[1], heading=r[2], content_hash=r[3],
                      ordinal=r[4]) for r in rows]

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        rows = self._all("SELECT DISTINCT ON (content_hash) content_hash, embedding FROM "
                         "rag_chunks WHERE library_id = %s AND content_hash = ANY(%s)",
                         (self._id, list(hashes)))
        return {h: np.asarray(v.to_numpy(), dtype=np.float32) for h, v in rows}

    def add_document(self, document: LoadedDocument, chunks: list[Chunk], vectors: np.ndarray,
                     original: bytes) -> tuple[str, str]:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        with self._write() as conn:
            twin = conn.execute("SELECT name FROM rag_documents WHERE library_id = %s AND "
                                "content_hash = %s AND name != %s LIMIT 1",
                                (self._id, document.content_hash, document.file_name)).fetchone()
            if twin:
                return "skipped", twin[0]
            old = conn.execute("SELECT id, content_hash, kind FROM rag_documents WHERE "
                               "library_id = %s AND name = %s",
                               (self._id, document.file_name)).fetchone()
            if old:
                conn.execute("DELETE FROM rag_documents WHERE id = %s", (old[0],))
                self._drop_unused_original(conn, old[1], old[2])
            conn.execute("INSERT INTO rag_originals VALUES (%s, %s, %s, %s) ON CONFLICT DO "
                         "NOTHING", (self._id, document.content_hash, document.kind, original))
            doc_id = conn.execute(
                "INSERT INTO rag_documents (library_id, name, kind, pages, characters, "
                "content_hash, warnings) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (self._id, document.file_name, document.kind, document.pages,
                 document.characters, document.content_hash,
                 json.dumps(document.warnings, ensure_ascii=False))).fetchone()[0]
            with conn.cursor() as cur:
                cur.executemany(
                    INSERT_CHUNK,
                    [{"lib": self._id, "doc": doc_id, "ordinal": c.ordinal, "page": c.page,
                      "heading": c.heading, "text": c.text, "hash": c.content_hash,
                      "dim": self.dim, "vector": np.asarray(v, dtype=np.float32),
                      "t": f"{c.heading}\n{c.text}"}
                     for c, v in zip(chunks, vectors, strict=True)])
        return ("replaced" if old else "added"), document.file_name

    def delete_document(self, name: str) -> None:
        with self._write() as conn:
            row = conn.execute("DELETE FROM rag_documents WHERE library_id = %s AND name = %s "
                               "RETURNING content_hash, kind", (self._id, name)).fetchone()
            if row is None:
                raise DocumentNotFoundError(f"No document named '{name}' in this library.",
                                            name=name)
            self._drop_unused_original(conn, row[0], row[1])

    def _drop_unused_original(self, conn, content_hash: str, kind: str) -> None:
        conn.execute("DELETE FROM rag_originals o WHERE library_id = %s AND content_hash = %s "
                     "AND kind = %s AND NOT EXISTS (SELECT 1 FROM rag_documents d WHERE "
                     "d.library_id = o.library_id AND d.content_hash = o.content_hash AND "
                     "d.kind = o.kind)", (self._id, content_hash, kind))

    # ---- search ------------------------------------------------------------------------

    def dense_search(self, query: np.ndarray, k: int,
                     documents: list[str] | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (documents is not None and not documents):
            return []
        vector, dim = np.asarray(query, dtype=np.float32).reshape(-1), self.dim
        with self._connection() as conn, conn.transaction():
            if documents is None:  # approximate: the HNSW index of this dimension
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, k)}")
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                rows = conn.execute(
                    f"SELECT id, 1 - (embedding::vector({dim}) <=> %s::vector({dim})) AS s "  # noqa: S608
                    f"FROM rag_chunks WHERE dim = {dim} AND library_id = %s "
                    f"ORDER BY embedding::vector({dim}) <=> %s::vector({dim}) LIMIT %s",
                    (vector, self._id, vector, k)).fetchall()
                return sorted(((int(i), float(s)) for i, s in rows), key=lambda r: -r[1])
            rows = conn.execute(  # exact: every chunk of those documents, no index
                f"WITH c AS MATERIALIZED (SELECT c.id, c.embedding FROM rag_chunks c JOIN "  # noqa: S608
                f"rag_documents d ON d.id = c.document_id WHERE d.library_id = %s AND "
                f"d.name = ANY(%s)) SELECT id, 1 - (embedding::vector({dim}) <=> "
                f"%s::vector({dim})) AS s FROM c ORDER BY s DESC LIMIT %s",
                (self._id, list(documents), vector, k)).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def keyword_search(self, query: str, k: int,
                       documents: list[str] | None = None) -> list[tuple[int, float]]:
        with self._connection() as conn:
            return pg_keywords.keyword_search(conn, self._id, query, k, documents)

    def vectors(self, ids: list[int]) -> np.ndarray:
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if not ids:
            return out
        found = dict(self._all("SELECT id, embedding FROM rag_chunks WHERE library_id = %s "
                               "AND id = ANY(%s)", (self._id, list(ids))))
        for row, chunk_id in enumerate(ids):
            if chunk_id in found:
                out[row] = found[chunk_id].to_numpy()
        return out

    def chunk_rows(self, ids: list[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        rows = self._all("SELECT c.id, d.name, c.page, c.heading, c.text FROM rag_chunks c "
                         "JOIN rag_documents d ON d.id = c.document_id WHERE c.library_id = %s "
                         "AND c.id = ANY(%s)", (self._id, list(ids)))
        return {int(r[0]): (r[1], r[2], r[3], r[4]) for r in rows}

    def close(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait().close()
