"""The PostgreSQL backend's schema, created and migrated by the app.

Each migration runs once, in order, in one transaction under an advisory lock, so several
app processes starting at once against a fresh database do not race. ``rag_schema`` records
the version reached. To add a change: append a migration; never edit a released one.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from rag.errors import StoreUnavailableError

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x7261670001  # pg_advisory_xact_lock key: "rag" + 1
_migrated: set[str] = set()
_migrate_lock = threading.Lock()

MIGRATIONS: list[str] = [
    # 1: libraries per (namespace, name); documents, originals and chunks with a vector
    # (any dimension: each embedder's dimension gets its own partial HNSW index) and a
    # full-text vector in both Spanish and English configurations, accents removed.
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE EXTENSION IF NOT EXISTS unaccent;
    CREATE TABLE rag_libraries (
        id BIGSERIAL PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,
        embedder TEXT NOT NULL, dim INTEGER NOT NULL, UNIQUE (namespace, name));
    CREATE TABLE rag_documents (
        id BIGSERIAL PRIMARY KEY,
        library_id BIGINT NOT NULL REFERENCES rag_libraries(id) ON DELETE CASCADE,
        name TEXT NOT NULL, kind TEXT NOT NULL, pages INTEGER NOT NULL,
        characters INTEGER NOT NULL, content_hash TEXT NOT NULL,
        added_at TIMESTAMPTZ NOT NULL DEFAULT now(), warnings JSONB NOT NULL DEFAULT '[]',
        UNIQUE (library_id, name));
    CREATE INDEX rag_documents_hash ON rag_documents (library_id, content_hash);
    CREATE TABLE rag_originals (
        library_id BIGINT NOT NULL REFERENCES rag_libraries(id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL, kind TEXT NOT NULL, data BYTEA NOT NULL,
        PRIMARY KEY (library_id, content_hash, kind));
    CREATE TABLE rag_chunks (
        id BIGSERIAL PRIMARY KEY,
        library_id BIGINT NOT NULL REFERENCES rag_libraries(id) ON DELETE CASCADE,
        document_id BIGINT NOT NULL REFERENCES rag_documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL, page INTEGER, heading TEXT NOT NULL, text TEXT NOT NULL,
        content_hash TEXT NOT NULL, dim INTEGER NOT NULL, embedding vector NOT NULL,
        tsv TSVECTOR NOT NULL);
    CREATE INDEX rag_chunks_document ON rag_chunks (document_id);
    CREATE INDEX rag_chunks_hash ON rag_chunks (library_id, content_hash);
    CREATE INDEX rag_chunks_tsv ON rag_chunks USING gin (tsv);
    """,
]


def vector_index_sql(dim: int) -> str:
    """The HNSW index for one embedding dimension (cosine distance)."""
    dim = int(dim)
    return (f"CREATE INDEX IF NOT EXISTS rag_chunks_hnsw_{dim} ON rag_chunks USING hnsw "
            f"((embedding::vector({dim})) vector_cosine_ops) WHERE dim = {dim}")


def migrate(conn) -> int:
    """Bring the schema up to date; returns the version reached."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS rag_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM rag_schema").fetchone()
        version = row[0] if row else 0
        if row is None:
            conn.execute("INSERT INTO rag_schema VALUES (0)")
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("migrating the database schema to version %d", number)
            conn.execute(sql)
            conn.execute("UPDATE rag_schema SET version = %s", (number,))
        return len(MIGRATIONS) if version < len(MIGRATIONS) else version


def where(url: str) -> str:
    """Where the database is, for people (no user name or password)."""
    parts = urlsplit(url)
    return f"PostgreSQL {parts.hostname or 'local socket'}{parts.path or ''}"


def connect(url: str):
    """An autocommit connection with pgvector's types, or :class:`StoreUnavailableError`."""
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(f"The database at {where(url)} cannot be reached: "
                                    f"{exc}".strip(), where=where(url)) from exc
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    return conn


def migrate_once(conn, url: str) -> None:
    """The schema migrations, once per database URL in this process."""
    with _migrate_lock:
        if url not in _migrated:
            migrate(conn)
            _migrated.add(url)
