"""Accounts engine (rag.auth): real argon2id hashing and real SQLite in a temp data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.auth import Accounts
from rag.auth.sessions import Handoffs, token_hash
from rag.errors import (
    InvalidInviteError,
    InvalidLoginError,
    InvalidUserNameError,
    LastAdminError,
    RegistrationClosedError,
    TooManyAttemptsError,
    UserExistsError,
    WeakPasswordError,
)

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(data_dir: Path, clock: Clock) -> Accounts:
    return Accounts(data_dir, session_days=7, idle_hours=24, clock=clock)


def test_first_account_is_admin_owning_the_data_dir(accounts: Accounts, data_dir: Path) -> None:
    assert accounts.needs_setup()
    ana = accounts.register("ana", PASSWORD)
    assert ana.is_admin and accounts.home(ana) == data_dir
    bob = accounts.create_user("bob", PASSWORD)
    assert not bob.is_admin and accounts.home(bob) == data_dir / "users" / bob.id
    assert accounts.home(bob).is_dir() and "bob" not in str(accounts.home(bob))
    assert [u.name for u in accounts.users()] == ["ana", "bob"]
    with pytest.raises(UserExistsError):
        accounts.create_user("BOB", PASSWORD)
    for bad in ("../x", "", "a b", "shared", "x" * 70):
        with pytest.raises(InvalidUserNameError):
            accounts.create_user(bad, PASSWORD)
    with pytest.raises(WeakPasswordError) as weak:
        accounts.create_user("carl", "short")
    assert weak.value.params == {"min": 8}


def test_registration_closed_open_and_by_invitation(accounts: Accounts) -> None:
    accounts.register("ana", PASSWORD)
    assert accounts.registration_mode() == "closed"
    with pytest.raises(RegistrationClosedError):
        accounts.register("bob", PASSWORD)
    assert accounts.set_registration_mode("open") is None
    assert not accounts.register("bob", PASSWORD).is_admin
    code = accounts.set_registration_mode("invite")
    assert code
    with pytest.raises(InvalidInviteError):
        accounts.register("carl", PASSWORD, invite="guess")
    accounts.register("carl", PASSWORD, invite=code)


def test_passwords_are_argon2id_and_long_ones_count_whole(accounts: Accounts,
                                                          data_dir: Path) -> None:
    long_password = "p" * 100 + "A"
    accounts.register("ana", long_password)
    with pytest.raises(InvalidLoginError):
        accounts.authenticate("ana", "p" * 100 + "B")  # bcrypt would accept this one
    assert accounts.authenticate("ana", long_password).name == "ana"
    raw = (data_dir / "auth.sqlite3").read_bytes()
    assert b"$argon2id$" in raw and long_password.encode() not in raw


def test_sessions_store_only_hashes_and_end(accounts: Accounts, clock: Clock,
                                            data_dir: Path) -> None:
    accounts.register("ana", PASSWORD)
    user, token = accounts.login("ana", PASSWORD)
    assert accounts.user_for_token(token) == user
    assert token.encode() not in (data_dir / "auth.sqlite3").read_bytes()
    assert token_hash(token).encode() in (data_dir / "auth.sqlite3").read_bytes()
    accounts.sessions.revoke(token)  # logout
    assert accounts.user_for_token(token) is None
    # idle timeout, then the absolute expiry despite activity
    _, token = accounts.login("ana", PASSWORD)
    clock.now += 25 * 3600
    assert accounts.user_for_token(token) is None
    _, token = accounts.login("ana", PASSWORD)
    for _ in range(8):
        clock.now += 23 * 3600
        accounts.user_for_token(token)
    assert accounts.user_for_token(token) is None  # 7 days passed
    assert accounts.user_for_token("forged") is None and accounts.user_for_token(None) is None


def test_password_change_and_disable_revoke_sessions(accounts: Accounts) -> None:
    accounts.register("ana", PASSWORD)
    accounts.create_user("bob", PASSWORD)
    _, token = accounts.login("bob", PASSWORD)
    with pytest.raises(InvalidLoginError):
        accounts.change_password("bob", "not it at all", "new password 1")
    accounts.change_password("bob", PASSWORD, "new password 1")
    assert accounts.user_for_token(token) is None
    with pytest.raises(InvalidLoginError):
        accounts.authenticate("bob", PASSWORD)
    _, token = accounts.login("bob", "new password 1")
    accounts.set_disabled("bob", True)
    assert accounts.user_for_token(token) is None
    with pytest.raises(InvalidLoginError):  # same message as a wrong password
        accounts.authenticate("bob", "new password 1")
    accounts.set_disabled("bob", False)
    accounts.set_password("bob", "admin reset it")
    assert accounts.authenticate("bob", "admin reset it").name == "bob"


def test_failed_logins_are_slowed_without_revealing_names(accounts: Accounts,
                                                          clock: Clock) -> None:
    accounts.register("ana", PASSWORD)
    waits = {}
    for name in ("ana", "nobody"):
        for _ in range(3):
            with pytest.raises(InvalidLoginError):
                accounts.authenticate(name, "wrong password")
        with pytest.raises(TooManyAttemptsError) as locked:
            accounts.authenticate(name, PASSWORD)  # even the right one waits
        waits[name] = (locked.value.params["seconds"], str(locked.value))
    assert waits["ana"] == waits["nobody"] == (1, "Too many failed attempts. Try again in "
                                                   "1 seconds.")
    clock.now += 2
    with pytest.raises(InvalidLoginError):
        accounts.authenticate("ana", "wrong again")
    with pytest.raises(TooManyAttemptsError) as locked:
        accounts.authenticate("ana", PASSWORD)
    assert locked.value.params["seconds"] == 2  # doubles with each failure
    clock.now += 3
    assert accounts.authenticate("ana", PASSWORD).name == "ana"


def test_failed_logins_are_slowed_per_client(accounts: Accounts) -> None:
    accounts.register("ana", PASSWORD)
    for number in range(10):  # ten names from one address
        with pytest.raises(InvalidLoginError):
            accounts.authenticate(f"guess{number}", "wrong password", client="10.0.0.9")
    with pytest.raises(TooManyAttemptsError):
        accounts.authenticate("ana", PASSWORD, client="10.0.0.9")
    assert accounts.authenticate("ana", PASSWORD, client="10.0.0.10").name == "ana"


def test_delete_user_takes_their_data_and_keeps_the_last_admin(accounts: Accounts,
                                                               data_dir: Path) -> None:
    ana = accounts.register("ana", PASSWORD)
    bob = accounts.create_user("bob", PASSWORD)
    (accounts.home(bob) / "chats").mkdir()
    (accounts.home(bob) / "chats" / "x.json").write_text("{}")
    with pytest.raises(LastAdminError):
        accounts.delete_user("ana")
    with pytest.raises(LastAdminError):
        accounts.set_disabled("ana", True)
    accounts.delete_user("bob")
    assert not accounts.home(bob).exists() and [u.name for u in accounts.users()] == ["ana"]
    assert accounts.home(ana) == data_dir


def test_handoff_codes_are_single_use() -> None:
    handoffs = Handoffs(ttl_s=60)
    code = handoffs.issue("the-token")
    assert "the-token" not in code
    assert handoffs.redeem(code) == "the-token"
    assert handoffs.redeem(code) is None
    assert handoffs.redeem("made-up") is None
    expired = Handoffs(ttl_s=-1)
    assert expired.redeem(expired.issue("t")) is None


def test_handoff_codes_bound_to_a_browser_work_only_there() -> None:
    handoffs = Handoffs()
    code = handoffs.issue("the-token", binding="browser-a")
    assert handoffs.redeem(code, binding="browser-b") is None
    assert handoffs.redeem(code, binding="browser-a") is None  # used up by the attempt
    assert handoffs.redeem(handoffs.issue("t", binding="browser-a"), "browser-a") == "t"
