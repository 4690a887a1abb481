"""Server-side sessions: a random token goes to the browser; only its SHA-256 is stored.

A session ends at its expiry, after ``idle_s`` without use, at logout, or when the
account's password changes or the account is disabled or deleted."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

from rag.auth.store import AuthStore

TOUCH_EVERY_S = 60  # last_seen is written at most this often per session


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionBook:
    def __init__(self, store: AuthStore, lifetime_s: float, idle_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.lifetime_s, self.idle_s, self.clock = store, lifetime_s, idle_s, clock

    def create(self, user_id: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.connect() as db:
            db.execute("DELETE FROM sessions WHERE expires < ? OR last_seen < ?",
                       (now, now - self.idle_s))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (token_hash(token), user_id, now, now, now + self.lifetime_s))
        return token

    def user_id(self, token: str | None) -> str | None:
        """The user of a live session (and it counts as activity), else ``None``."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        digest, now = token_hash(token), self.clock()
        with self.store.connect() as db:
            row = db.execute("SELECT user_id, last_seen, expires FROM sessions "
                             "WHERE token_hash = ?", (digest,)).fetchone()
            if row is None:
                return None
            if row["expires"] <= now or row["last_seen"] + self.idle_s <= now:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
                return None
            if now - row["last_seen"] >= TOUCH_EVERY_S:
                db.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?",
                           (now, digest))
        return row["user_id"]

    def revoke(self, token: str | None) -> None:
        if token:
            with self.store.connect() as db:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def revoke_user(self, user_id: str) -> None:
        with self.store.connect() as db:
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def count(self, user_id: str) -> int:
        with self.store.connect() as db:
            return db.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ?",
                              (user_id,)).fetchone()[0]


class Handoffs:
    """One-time codes (60 s, in memory) that carry a new session's token from the app to
    the route that sets the browser cookie, so the token never appears in a URL.

    A code can be bound to the browser that logged in (``binding``: a digest of a
    per-browser value such as Streamlit's XSRF cookie); the route then refuses it from
    any other browser, so a code cannot be used to log a victim into another account."""

    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self.enabled = False  # set by serve.py, which serves the route that redeems them
        self._codes: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, token: str, binding: str = "") -> str:
        code = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._codes = {k: v for k, v in self._codes.items() if v[2] > now}
            self._codes[token_hash(code)] = (token, binding, now + self.ttl_s)
        return code

    def redeem(self, code: str | None, binding: str = "") -> str | None:
        if not code:
            return None
        with self._lock:
            token, bound, until = self._codes.pop(token_hash(code), (None, "", 0.0))
        if not token or until <= time.monotonic():
            return None
        return token if not bound or secrets.compare_digest(bound, binding) else None


HANDOFFS = Handoffs()
"""Process-wide: the Streamlit script issues, the HTTP route (same process) redeems."""
