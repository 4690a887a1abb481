"""Accounts in the app (AppTest, fake models, accounts on): first account, login, logout,
registration modes, per-person libraries and chats, the admin part of Settings."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from rag.auth import Accounts
from rag.errors import InvalidLoginError
from rag.settings import load_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def auth_app(app, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAG_AUTH", "on")
    return app


def _submit(at, **fields: str):
    for key, value in fields.items():
        at.text_input(key=key).input(value)
    form_button = next(b for b in at.button if b.form_id)
    return form_button.click().run()


def _texts(at) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.title, *at.error,
                                           *at.success, *at.info])


def test_first_visit_creates_the_admin_then_strangers_only_see_login(auth_app, data_dir: Path):
    at = auth_app.run()
    assert [t.value for t in at.title] == ["Crea la cuenta de administración"]
    at = _submit(at, register_name="ana", register_password=PASSWORD, register_again=PASSWORD)
    assert not at.exception and not at.error
    assert "Sesión de **ana**" in " ".join(c.value for c in at.sidebar.caption)
    assert at.title[0].value == "Chat con tus documentos"
    user = Accounts(data_dir).get("ana")
    assert user.is_admin and user.home == ""

    # another browser: only the login form, no way to register
    stranger = type(auth_app).from_file(auth_app._script_path, default_timeout=60).run()
    assert [t.value for t in stranger.title] == ["Entrar"]
    assert "Pídela a quien administra" in _texts(stranger)
    assert not stranger.sidebar.caption or "documento" not in _texts(stranger)
    stranger = _submit(stranger, login_name="ana", login_password="wrong password!")
    assert [e.value for e in stranger.error] == ["Usuario o contraseña incorrectos."]
    stranger = _submit(stranger, login_name="nobody", login_password="wrong password!")
    assert [e.value for e in stranger.error] == ["Usuario o contraseña incorrectos."]
    errors = []
    for attempt in range(12):  # a loop of wrong passwords is slowed down
        stranger = _submit(stranger, login_name="ana", login_password=f"wrong again {attempt}")
        errors.append(stranger.error[0].value)
        if "Demasiados intentos fallidos" in errors[-1]:
            break
    assert errors[:2] == ["Usuario o contraseña incorrectos."] * 2
    assert errors[-1].startswith("Demasiados intentos fallidos. Espera "), errors


def test_login_logout_and_password_change(auth_app, data_dir: Path) -> None:
    accounts = Accounts(data_dir)
    accounts.create_user("ana", PASSWORD)
    accounts.create_user("bob", PASSWORD)
    at = _submit(auth_app.run(), login_name="bob", login_password=PASSWORD)
    assert "Sesión de **bob**" in " ".join(c.value for c in at.sidebar.caption)
    at.switch_page("pages/account.py").run()
    assert at.title[0].value == "Tu cuenta"
    at = _submit(at, old_password=PASSWORD, new_password="a new phrase here",
                 new_again="a new phrase here")
    assert at.success[0].value.startswith("Contraseña cambiada")
    at = at.button(key="login_again").click().run()
    assert [t.value for t in at.title] == ["Entrar"]  # the session ended with the change
    at = _login(auth_app, "bob", "a new phrase here")
    at.switch_page("pages/account.py").run()
    token = at.session_state["auth_token"]
    at = at.button(key="logout").click().run()
    assert [t.value for t in at.title] == ["Entrar"]
    assert accounts.user_for_token(token) is None
    # log out everywhere: another browser's session ends too
    _, elsewhere = accounts.login("bob", "a new phrase here")
    at = _login(auth_app, "bob", "a new phrase here")
    at.switch_page("pages/account.py").run()
    at = at.button(key="logout_all").click().run()
    assert [t.value for t in at.title] == ["Entrar"]
    assert accounts.user_for_token(elsewhere) is None


def test_open_registration(auth_app, data_dir: Path) -> None:
    accounts = Accounts(data_dir)
    accounts.create_user("ana", PASSWORD)
    accounts.set_registration_mode("open")
    at = auth_app.run()
    at.switch_page("pages/register.py").run()
    assert at.title[0].value == "Crear cuenta"
    at = _submit(at, register_name="carl", register_password=PASSWORD, register_again="x")
    assert at.error[0].value == "Las contraseñas no coinciden."
    at = _submit(at, register_name="carl", register_password="short", register_again="short")
    assert at.error[0].value == "La contraseña necesita al menos 8 caracteres."
    at = _submit(at, register_name="carl", register_password=PASSWORD,
                 register_again=PASSWORD)
    assert not accounts.get("carl").is_admin
    assert "Sesión de **carl**" in " ".join(c.value for c in at.sidebar.caption)


def _login(auth_app, name: str, password: str = PASSWORD):
    """A new browser session logged in as ``name``."""
    at = type(auth_app).from_file(auth_app._script_path, default_timeout=60).run()
    at = _submit(at, login_name=name, login_password=password)
    assert f"Sesión de **{name}**" in " ".join(c.value for c in at.sidebar.caption)
    return at


def _ask(at, question: str):
    at.chat_input(key="chat_prompt").set_value(question).run()
    assert not at.exception, at.exception
    return at


def _all_text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [b.label for b in at.button] + [str(o) for s in at.multiselect
                                                       for o in s.options])


def test_each_person_sees_only_their_own_library_and_chats(auth_app, data_dir: Path,
                                                          fake_service) -> None:
    accounts = Accounts(data_dir)
    homes = {name: accounts.home(accounts.create_user(name, PASSWORD)) for name in ("ana", "bob")}
    facts = {"ana": "The vault code of the north office is AZUL-1111.",
             "bob": "The vault code of the north office is ROJO-2222."}
    for name, home in homes.items():  # same file name, different content
        report = fake_service(load_settings(home)).ingest_bytes("codes.txt", facts[name].encode())
        assert report.status == "added"
    for name, other in (("ana", "bob"), ("bob", "ana")):
        at = _ask(_login(auth_app, name), "What is the vault code of the north office?")
        text = _all_text(at)
        own_code, other_code = facts[name][-10:-1], facts[other][-10:-1]
        assert own_code.replace("-", "\\-") in text  # the answer and its passage
        assert other_code.replace("-", "\\-") not in text and other_code not in text
        assert "codes\\.txt" in text
        chats = list((homes[name] / "chats").rglob("*.json"))
        assert len(chats) == 1 and own_code in chats[0].read_text()
        assert other_code not in chats[0].read_text()
        at.switch_page("pages/documents.py").run()
        assert not at.exception
        table = at.dataframe[0].value
        assert list(table.iloc[:, 0]) == ["codes.txt"]  # one document: their own
    # each sidebar lists one saved conversation: their own
    for name in ("ana", "bob"):
        listed = [b for b in _login(auth_app, name).sidebar.button
                  if b.key and b.key.startswith("open_")]
        assert len(listed) == 1


def test_admin_publishes_to_the_shared_library_others_search_it(auth_app, data_dir: Path,
                                                                fake_service) -> None:
    accounts = Accounts(data_dir)
    accounts.create_user("ana", PASSWORD)
    bob = accounts.create_user("bob", PASSWORD)
    ana_service = fake_service(load_settings(data_dir))
    ana_service.ingest_bytes("policy.txt", b"The holiday policy grants 30 days of leave.")
    ana_service.ingest_bytes("private.txt", b"The private salary of the director is 99.")

    bob_at = _login(auth_app, "bob")
    bob_at.switch_page("pages/settings.py").run()
    assert "Administración" not in [h.value for h in bob_at.header]  # not for users

    at = _login(auth_app, "ana")
    at.switch_page("pages/settings.py").run()
    assert not at.exception and "Administración" in [h.value for h in at.header]
    at.multiselect(key="admin_publish_pick").select("policy.txt")
    at = next(b for b in at.button if b.form_id == "admin_publish").click().run()
    assert any("Publicado: policy\\.txt" in s.value for s in at.success)

    bob_at = _login(auth_app, "bob")
    assert bob_at.multiselect(key="chat_filter").options == ["Compartido · policy.txt"]
    text = _all_text(_ask(bob_at, "How many days of leave does the holiday policy grant?"))
    assert "Compartido · policy\\.txt" in text and "30 days" in text
    assert "salary" not in text
    # the shared library is read-only for bob: his own library stays empty
    assert fake_service(load_settings(accounts.home(bob))).list_documents() == []


def test_admin_manages_accounts_and_registration(auth_app, data_dir: Path) -> None:
    accounts = Accounts(data_dir)
    accounts.create_user("ana", PASSWORD)
    bob = accounts.create_user("bob", PASSWORD)
    (accounts.home(bob) / "chats").mkdir()
    at = _login(auth_app, "ana")
    at.switch_page("pages/settings.py").run()
    at.radio(key="admin_registration_mode").set_value("invite")
    at = next(b for b in at.button if b.form_id == "admin_registration").click().run()
    code = re.search(r"`(.+)`", at.info[0].value).group(1)
    stranger = type(auth_app).from_file(auth_app._script_path, default_timeout=60).run()
    stranger.switch_page("pages/register.py").run()  # by invitation: a wrong code, then it
    for invite, error in (("not-the-code", ["Ese código de invitación no es válido."]),
                          (code, [])):
        stranger = _submit(stranger, register_name="carl", register_password=PASSWORD,
                           register_again=PASSWORD, register_invite=invite)
        assert [e.value for e in stranger.error] == error
        assert [u.name for u in accounts.users()][2:] == (["carl"] if invite == code else [])
    assert "Sesión de **carl**" in " ".join(c.value for c in stranger.sidebar.caption)
    at.selectbox(key="admin_pick").set_value("bob").run()
    at.button(key="admin_toggle").click().run()
    assert accounts.get("bob").disabled
    assert at.button(key="admin_delete").disabled  # the name was not typed yet
    at.text_input(key="admin_delete_confirm").input("bob").run()
    at.button(key="admin_delete").click().run()
    assert not at.exception
    assert [u.name for u in accounts.users()] == ["ana", "carl"]
    assert not accounts.home(bob).exists()


def test_browser_binding_follows_the_xsrf_token_not_its_mask() -> None:
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    from ui import auth

    token = b"0123456789abcdef"
    first, again = generate_xsrf_token_string(token), generate_xsrf_token_string(token)
    assert first != again  # a new mask each time the cookie is set
    binding = auth.browser_binding(first)
    assert binding and binding == auth.browser_binding(again)
    assert binding != auth.browser_binding(generate_xsrf_token_string(b"x" * 16))
    assert auth.browser_binding(None) == auth.browser_binding("junk") == ""


def _form_submit(at, form_id: str):
    return next(b for b in at.button if b.form_id == form_id)


def test_admin_adds_an_account_resets_a_password_and_re_enables_one(auth_app,
                                                                    data_dir: Path) -> None:
    accounts = Accounts(data_dir)
    accounts.create_user("ana", PASSWORD)
    accounts.create_user("bob", PASSWORD)
    bob_at = _login(auth_app, "bob")
    bob_token = bob_at.session_state["auth_token"]
    at = _login(auth_app, "ana")
    at.switch_page("pages/settings.py").run()
    at.text_input(key="admin_new_name").input("dora")
    at.text_input(key="admin_new_password").input("dora's passphrase")
    at = _form_submit(at, "admin_add_user").click().run()
    assert not at.exception and any("dora" in s.value for s in at.success)
    assert not accounts.get("dora").is_admin
    assert accounts.authenticate("dora", "dora's passphrase").name == "dora"
    at.selectbox(key="admin_pick").set_value("bob").run()
    at.text_input(key="admin_reset_password").input("a fresh passphrase")
    at = _form_submit(at, "admin_reset").click().run()
    assert not at.exception and any("bob" in s.value for s in at.success)
    assert accounts.user_for_token(bob_token) is None  # bob's old session is refused
    assert [t.value for t in bob_at.run().title] == ["Entrar"]
    with pytest.raises(InvalidLoginError):
        accounts.authenticate("bob", PASSWORD)
    _login(auth_app, "bob", "a fresh passphrase")
    at.selectbox(key="admin_pick").set_value("bob").run()
    at = at.button(key="admin_toggle").click().run()
    assert accounts.get("bob").disabled
    at = at.button(key="admin_toggle").click().run()  # now "enable"
    assert not at.exception and not accounts.get("bob").disabled
    _login(auth_app, "bob", "a fresh passphrase")


def test_each_person_saves_their_own_settings(auth_app, data_dir: Path) -> None:
    accounts = Accounts(data_dir)
    accounts.create_user("ana", PASSWORD)
    bob = accounts.create_user("bob", PASSWORD)
    (data_dir / "settings.json").write_text('{"top_k": 3}\n', encoding="utf-8")
    at = _login(auth_app, "bob")
    at.switch_page("pages/settings.py").run()
    assert at.slider(key="set_top_k").value == load_settings(accounts.home(bob)).top_k != 9
    at.slider(key="set_top_k").set_value(9)
    at = _form_submit(at, "settings_form").click().run()
    assert not at.exception and at.success
    assert load_settings(accounts.home(bob)).top_k == 9
    assert load_settings(data_dir).top_k == 3  # ana's (the data dir's) settings unchanged
    assert (data_dir / "settings.json").read_text(encoding="utf-8") == '{"top_k": 3}\n'
    at = _login(auth_app, "ana")
    at.switch_page("pages/settings.py").run()
    assert at.slider(key="set_top_k").value == 3


def test_a_failed_login_logs_no_typed_secret(auth_app, data_dir: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    Accounts(data_dir).create_user("ana", PASSWORD)
    caplog.set_level(logging.INFO, logger="app.login")
    at = _submit(auth_app.run(), login_name="Tr0ub4dor&3 secret", login_password="x")
    assert at.error  # a password typed into the name field
    at = _submit(at, login_name="ANA", login_password="wrong password!")
    logged = [r.getMessage() for r in caplog.records if r.name == "app.login"]
    assert len(logged) == 2 and all(m.startswith("failed login") for m in logged), logged
    assert "Tr0ub4dor" not in caplog.text
    assert "'ana'" in logged[1]  # an account's name is logged as the account spells it
