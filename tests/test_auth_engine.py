"""Accounts engine (rag.auth): real argon2id hashing and real SQLite in a temp data dir."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rag.auth import Accounts, User, passwords
from rag.auth.sessions import Handoffs, token_hash
from rag.errors import (
    InvalidInviteError,
    InvalidLoginError,
    InvalidUserNameError,
    LastAdminError,
    RegistrationClosedError,
    StoreUnavailableError,
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


def test_two_sign_ups_at_once_on_a_new_data_dir_make_one_admin(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both see an empty data dir, then hash slowly: the second to insert must still find
    registration closed (checked in the inserting transaction), not become a user."""
    real_hash = passwords.hash_password

    def slow_hash(password: str) -> str:
        time.sleep(0.5)
        return real_hash(password)

    monkeypatch.setattr(passwords, "hash_password", slow_hash)
    accounts = Accounts(data_dir)
    start = threading.Barrier(2)
    results: dict[str, User | Exception] = {}

    def sign_up(name: str) -> None:
        start.wait()
        try:
            results[name] = accounts.register(name, PASSWORD)
        except Exception as exc:
            results[name] = exc

    threads = [threading.Thread(target=sign_up, args=(name,)) for name in ("ana", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admins = [r for r in results.values() if isinstance(r, User)]
    refused = [r for r in results.values() if isinstance(r, RegistrationClosedError)]
    assert len(admins) == 1 and admins[0].is_admin and len(refused) == 1, results
    assert [u.name for u in accounts.users()] == [admins[0].name]


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


def test_wrong_current_passwords_are_slowed_like_logins(accounts: Accounts,
                                                       clock: Clock) -> None:
    accounts.register("ana", PASSWORD)
    for attempt in range(3):
        with pytest.raises(InvalidLoginError):
            accounts.change_password("ana", f"guess {attempt}", "new password 1",
                                     client="10.0.0.7")
    with pytest.raises(TooManyAttemptsError):  # even the right one waits
        accounts.change_password("ana", PASSWORD, "new password 1", client="10.0.0.7")
    with pytest.raises(TooManyAttemptsError):  # the same count as logins of the account
        accounts.authenticate("ana", PASSWORD)
    clock.now += 2
    accounts.change_password("ana", PASSWORD, "new password 1", client="10.0.0.7")
    assert accounts.authenticate("ana", "new password 1").name == "ana"
    for number in range(10):  # per client too: guesses at other names from one address
        with pytest.raises(InvalidLoginError):
            accounts.authenticate(f"guess{number}", "wrong password", client="10.0.0.9")
    with pytest.raises(TooManyAttemptsError):
        accounts.change_password("ana", "new password 1", "new password 2", client="10.0.0.9")


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


def test_delete_user_keeps_everything_when_the_store_cannot_forget(data_dir: Path) -> None:
    forgotten: list[Path] = []

    def database_down(home: Path) -> None:
        forgotten.append(home)
        raise StoreUnavailableError("The database cannot be reached.", where="db")

    accounts = Accounts(data_dir, forget_home=database_down)
    accounts.register("ana", PASSWORD)
    bob = accounts.create_user("bob", PASSWORD)
    with pytest.raises(StoreUnavailableError):
        accounts.delete_user("bob")
    assert forgotten == [accounts.home(bob)] and accounts.home(bob).is_dir()
    assert [u.name for u in accounts.users()] == ["ana", "bob"]


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
