"""Who may sign up: registration ``closed`` (the default), ``open``, or by ``invite`` code
(only its SHA-256 is kept). Every function works inside the caller's transaction, so the
check and the account it admits are one atomic step."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3

from rag.errors import InvalidInviteError, RegistrationClosedError

REGISTRATION_MODES = ("closed", "open", "invite")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _config(db: sqlite3.Connection, key: str, default: str = "") -> str:
    row = db.execute("SELECT value FROM config WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def _set_config(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT INTO config VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
               "SET value = excluded.value", (key, value))


def mode(db: sqlite3.Connection) -> str:
    value = _config(db, "registration", "closed")
    return value if value in REGISTRATION_MODES else "closed"


def set_mode(db: sqlite3.Connection, new_mode: str) -> str | None:
    """Set the mode; for ``invite`` returns a new code (shown once)."""
    if new_mode not in REGISTRATION_MODES:
        raise ValueError(f"unknown registration mode {new_mode!r}")
    code = None
    if new_mode == "invite":
        code = secrets.token_urlsafe(9)
        _set_config(db, "invite_hash", _digest(code))
    _set_config(db, "registration", new_mode)
    return code


def admit(db: sqlite3.Connection, invite: str = "") -> None:
    """Refuse a sign-up (not the first account's) that the mode does not allow."""
    current = mode(db)
    if current == "closed":
        raise RegistrationClosedError("Registration is closed; ask the administrator.")
    if current == "invite" and not _invite_ok(db, invite):
        raise InvalidInviteError("That invitation code is not valid.")


def _invite_ok(db: sqlite3.Connection, code: str) -> bool:
    stored = _config(db, "invite_hash")
    return bool(stored and code) and secrets.compare_digest(stored, _digest(code.strip()))
