"""Failed logins slow down: per account name and per client address, a few failures are
free, then each one locks that key for twice as long as the last (up to 15 minutes).

An unknown name is counted like a known one, so the lock never tells whether it exists."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from rag.auth.store import AuthStore
from rag.errors import TooManyAttemptsError

FREE_FAILURES = {"user": 3, "client": 10}
MAX_LOCK_S = 15 * 60

Key = tuple[str, str]  # (kind, key)


def login_keys(name: str, client: str = "") -> list[Key]:
    """The keys one login attempt counts against: the name, and the client if known."""
    keys = [("user", "user:" + name.strip().lower())]
    if client:
        keys.append(("client", "client:" + client))
    return keys


class Throttle:
    def __init__(self, store: AuthStore, clock: Callable[[], float]) -> None:
        self.store, self.clock = store, clock

    def check(self, keys: list[Key]) -> None:
        """Raise :class:`TooManyAttemptsError` while any of ``keys`` is locked."""
        now = self.clock()
        wait = max(self._locked_for(key, kind, now) for kind, key in keys)
        if wait > 0:
            raise TooManyAttemptsError(
                f"Too many failed attempts. Try again in {wait} seconds.", seconds=wait)

    def failed(self, keys: list[Key]) -> None:
        now = self.clock()
        with self.store.connect() as db:
            for _, key in keys:
                db.execute("INSERT INTO failures VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE "
                           "SET count = count + 1, last = excluded.last", (key, now))

    @staticmethod
    def succeeded(db: sqlite3.Connection, keys: list[Key]) -> None:
        """Forget the failures of ``keys`` (inside the caller's transaction)."""
        db.executemany("DELETE FROM failures WHERE key = ?", [(k,) for _, k in keys])

    def _locked_for(self, key: str, kind: str, now: float) -> int:
        with self.store.connect() as db:
            row = db.execute("SELECT count, last FROM failures WHERE key = ?", (key,)).fetchone()
        if row is None or row["count"] < FREE_FAILURES[kind]:
            return 0
        lock = min(2 ** (row["count"] - FREE_FAILURES[kind]), MAX_LOCK_S)
        return max(0, int(row["last"] + lock - now + 0.999))
