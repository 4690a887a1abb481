"""Read connections for searches that run beside the library's writer.

A library's own connection is shared by every session behind one lock. Searches read
through connections of their own instead: SQLite's write-ahead log lets them run while a
writer works, so one session's keyword search waits neither for another session's search
nor for an upload's transaction, and a search can run beside its own dense half."""

from __future__ import annotations

import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IDLE_READERS = 4  # connections kept open between searches; more are opened when busy


class ReaderPool:
    def __init__(self, path: Path, idle: int = IDLE_READERS) -> None:
        self._path, self._idle_max = path, idle
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A query-only connection, returned to the pool afterwards."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
            conn.execute("PRAGMA query_only=ON")
        try:
            yield conn
        finally:
            if self._closed or self._idle.qsize() >= self._idle_max:
                conn.close()
            else:
                self._idle.put(conn)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
