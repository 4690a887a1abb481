"""The embedded store's database: its tables, how a connection is set up, which embedder
indexed it, and the names a library may have (``<data_dir>/libraries/<name>/``)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from rag import keywords
from rag.errors import EmbedderMismatchError, InvalidNameError
from rag.library_index import CHANGE_LOG

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
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(content_hash);
CREATE TABLE IF NOT EXISTS embeddings (content_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
""" + CHANGE_LOG

LIBRARY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_library_name(name: str) -> str:
    if not LIBRARY_NAME.match(name) or ".." in name:
        raise InvalidNameError(f"Invalid library name '{name}': use letters, digits, '-', '_'.",
                               name=name)
    return name


def library_root(data_dir: str | Path, name: str) -> Path:
    return Path(data_dir) / "libraries" / check_library_name(name)


def connect(path: Path) -> sqlite3.Connection:
    """The library's own (writer) connection, shared by threads behind the library's lock."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA secure_delete=ON")  # deleted text is overwritten with zeros
    return db


def create(db: sqlite3.Connection) -> None:
    """Create the tables and the full-text index (idempotent; under the write locks)."""
    db.executescript(SCHEMA)
    keywords.create_fts(db)


def _meta(db: sqlite3.Connection, key: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else ""


def check_embedder(db: sqlite3.Connection, embedder_name: str, dim: int, adopt: bool) -> None:
    """Inside a write transaction: refuse a library indexed by another embedder
    (:class:`EmbedderMismatchError`), or with ``adopt`` drop its chunks so that it can be
    re-indexed (documents and originals stay); record the embedder of a new library."""
    stored = _meta(db, "embedder")
    count = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if stored and stored != embedder_name and count and adopt:
        db.execute("DELETE FROM chunks")
    elif stored and stored != embedder_name and count:
        raise EmbedderMismatchError(
            f"This library was indexed with the embedder '{stored}', but '"
            f"{embedder_name}' is selected. Re-index the library (Documents page, "
            "or `python -m rag reindex`) or select the previous embedder.",
            stored=stored, selected=embedder_name)
    if stored != embedder_name:
        db.execute("DELETE FROM embeddings")
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                       [("embedder", embedder_name), ("dim", str(dim))])
