"""Password hashing: argon2id (``argon2-cffi``'s defaults, RFC 9106 low-memory profile).

Unlike bcrypt there is no 72-byte cut: every character of a long passphrase counts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rag.errors import WeakPasswordError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # hashing cost is fixed, but a megabyte "password" is an attack
_hasher = PasswordHasher()
# Verified when a user name is unknown, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def check_strength(password: str, min_length: int = MIN_LENGTH) -> None:
    """Raise :class:`WeakPasswordError` if ``password`` is too short (or absurdly long)."""
    if len(password) < min_length or len(password) > MAX_LENGTH or not password.strip():
        raise WeakPasswordError(
            f"A password needs at least {min_length} characters.", min=min_length)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (``None``: an unknown user; the same
    work is done and the answer is ``False``)."""
    try:
        ok = _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
