"""Local accounts: users and their homes, registration, logins slowed after failures.

Each user has a home directory under the data dir holding their own ``libraries/``,
``chats/`` and ``settings.json``, so the engine works unchanged per user. The first account
(the administrator) owns the data dir itself: an existing single-user ``data/`` becomes
theirs with nothing moved. Later accounts live in ``users/<random id>/`` (never a name the
person chose). The shared library is the home ``shared/``.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.auth import passwords, registration
from rag.auth.sessions import SessionBook
from rag.auth.store import AuthStore
from rag.auth.throttle import Throttle, login_keys
from rag.errors import (
    InvalidLoginError,
    InvalidUserNameError,
    LastAdminError,
    UserExistsError,
    UserNotFoundError,
)

log = logging.getLogger(__name__)

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
SHARED_HOME = "shared"
# What a first admin's home holds (deleted with the account; everything else stays).
ROOT_HOME_ENTRIES = ("libraries", "chats", "settings.json")


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str  # "admin" | "user"
    disabled: bool
    home: str  # relative to the data dir; "" for the first administrator
    created: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row) -> User:
    return User(id=row["id"], name=row["name"], role=row["role"], disabled=bool(row["disabled"]),
                home=row["home"], created=row["created"])


def accounts_enabled(auth_setting: str) -> bool:
    """Accounts are on unless the ``auth`` setting (``RAG_AUTH``) says off."""
    return auth_setting.strip().lower() not in ("off", "false", "0", "no")


def _forget_store(home: Path) -> None:
    """Delete a home's libraries from a database store (its folder goes separately)."""
    from rag.components import forget_data_dir
    from rag.settings import load_settings

    forget_data_dir(load_settings(home))


class Accounts:
    """Accounts of one data dir. ``clock`` is injectable for tests."""

    def __init__(self, data_dir: str | Path, session_days: float = 7.0,
                 idle_hours: float = 24.0, min_password: int = passwords.MIN_LENGTH,
                 clock: Callable[[], float] = time.time,
                 forget_home: Callable[[Path], object] = _forget_store) -> None:
        self.data_dir = Path(data_dir)
        self.store = AuthStore(self.data_dir)
        self.clock = clock
        self.min_password = min_password
        self.sessions = SessionBook(self.store, session_days * 86400, idle_hours * 3600, clock)
        self.throttle = Throttle(self.store, clock)
        self.forget_home = forget_home
        """Deletes a home's data kept outside its folder (a database store's rows)."""

    # ---- users -------------------------------------------------------------------------

    def needs_setup(self) -> bool:
        """No account yet: the next one created becomes the administrator."""
        with self.store.connect() as db:
            return db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0

    def users(self) -> list[User]:
        with self.store.connect() as db:
            rows = db.execute("SELECT * FROM users ORDER BY created").fetchall()
        return [_user(r) for r in rows]

    def get(self, name: str) -> User:
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UserNotFoundError(f"There is no account '{name}'.", name=name)
        return _user(row)

    def home(self, user: User) -> Path:
        return self.data_dir / user.home if user.home else self.data_dir

    def shared_home(self) -> Path:
        return self.data_dir / SHARED_HOME

    def create_user(self, name: str, password: str, role: str | None = None) -> User:
        """A new account (``role`` None: admin if it is the first, else user)."""
        return self._create(name, password, role)

    def _create(self, name: str, password: str, role: str | None,
                invite: str | None = None) -> User:
        """Insert the account. A sign-up (``invite`` not None) that is not the first account
        is checked against the registration mode in the same transaction, which sees every
        account created before it."""
        name = name.strip()
        if not USER_NAME.match(name) or name.lower() in (SHARED_HOME, "users"):
            raise InvalidUserNameError(
                f"'{name}' is not a valid user name: letters, digits and . _ @ + -, "
                "up to 64 characters.", name=name)
        passwords.check_strength(password, self.min_password)
        password_hash = passwords.hash_password(password)
        user_id = secrets.token_hex(8)
        with self.store.connect() as db:
            first = db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
            if not first and invite is not None:
                registration.admit(db, invite)
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserExistsError(f"The name '{name}' is taken.", name=name)
            role = "admin" if first else (role or "user")
            home = "" if first else f"users/{user_id}"
            db.execute("INSERT INTO users VALUES (?, ?, ?, ?, 0, ?, ?)",
                       (user_id, name, password_hash, role, home, self.clock()))
        if home:
            (self.data_dir / home).mkdir(parents=True, exist_ok=True)
        log.info("account %s created (%s)", name, role)
        return self.get(name)

    def register(self, name: str, password: str, invite: str = "") -> User:
        """Self-service sign-up: the first account, or while registration is open (or by
        the invitation code). Checked before the (slow) hashing for a quick answer, and
        again in the transaction that inserts the account: two people signing up at once
        on a new data dir make one administrator, and the other is refused while
        registration is closed."""
        with self.store.connect() as db:  # a quick answer, before the slow hashing
            if db.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
                registration.admit(db, invite)
        return self._create(name, password, None, invite=invite)

    def set_password(self, name: str, password: str) -> None:
        """Set a password (admin reset or after checking the old one); every session of
        the account ends."""
        passwords.check_strength(password, self.min_password)
        user = self.get(name)
        with self.store.connect() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                       (passwords.hash_password(password), user.id))
        self.sessions.revoke_user(user.id)

    def change_password(self, name: str, old: str, new: str, client: str = "") -> None:
        """Check ``old`` as a login does (failures count and slow down, per account and
        per client), then set ``new``."""
        passwords.check_strength(new, self.min_password)
        self.authenticate(name, old, client)
        self.set_password(name, new)

    def set_disabled(self, name: str, disabled: bool) -> None:
        user = self.get(name)
        if disabled and user.is_admin:
            self._check_other_admin(user)
        with self.store.connect() as db:
            db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user.id))
        if disabled:
            self.sessions.revoke_user(user.id)

    def delete_user(self, name: str) -> None:
        """Delete the account with its documents, chats and settings (a database store's
        rows first: if it cannot be reached, nothing is deleted)."""
        user = self.get(name)
        if user.is_admin:
            self._check_other_admin(user)
        self.sessions.revoke_user(user.id)
        self.forget_home(self.home(user))
        with self.store.connect() as db:
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
            db.execute("DELETE FROM users WHERE id = ?", (user.id,))
        home = self.home(user)
        if user.home:
            shutil.rmtree(home, ignore_errors=True)
        else:
            for entry in ROOT_HOME_ENTRIES:
                path = home / entry
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        log.info("account %s deleted with its data", name)

    def _check_other_admin(self, user: User) -> None:
        others = [u for u in self.users() if u.is_admin and not u.disabled and u.id != user.id]
        if not others:
            raise LastAdminError("The last administrator cannot be removed or disabled.")

    # ---- logins ------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, client: str = "") -> User:
        """The user for these credentials, or :class:`InvalidLoginError` (the same for an
        unknown name). After a few failures per name or per client, attempts are refused
        for an exponentially growing time (:class:`TooManyAttemptsError`)."""
        keys = login_keys(name, client)
        self.throttle.check(keys)
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name.strip(),)).fetchone()
        ok = passwords.verify_password(row["password_hash"] if row else None, password)
        if not ok or row is None or row["disabled"]:
            self.throttle.failed(keys)
            raise InvalidLoginError("Wrong user name or password.")
        with self.store.connect() as db:
            self.throttle.succeeded(db, keys)
            if passwords.needs_rehash(row["password_hash"]):
                db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                           (passwords.hash_password(password), row["id"]))
        return _user(row)

    def login(self, name: str, password: str, client: str = "") -> tuple[User, str]:
        """Authenticate and open a session: ``(user, token)``."""
        user = self.authenticate(name, password, client)
        return user, self.sessions.create(user.id)

    def user_for_token(self, token: str | None) -> User | None:
        """The enabled user of a live session, else ``None``."""
        user_id = self.sessions.user_id(token)
        if user_id is None:
            return None
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM users WHERE id = ? AND disabled = 0",
                             (user_id,)).fetchone()
        return _user(row) if row else None

    # ---- registration settings ---------------------------------------------------------

    def registration_mode(self) -> str:
        with self.store.connect() as db:
            return registration.mode(db)

    def set_registration_mode(self, mode: str) -> str | None:
        """Set ``closed``, ``open`` or ``invite``; for ``invite`` returns a new code (shown
        once: only its hash is kept)."""
        with self.store.connect() as db:
            return registration.set_mode(db, mode)
