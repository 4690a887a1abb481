"""Accounts in the app (AppTest, fake models, accounts on): first account, login, logout,
registration modes, per-person libraries and chats, the admin part of Settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.auth import Accounts

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
    for attempt in range(2):
        stranger = _submit(stranger, login_name="ana", login_password=f"wrong again {attempt}")
    stranger = _submit(stranger, login_name="ana", login_password=PASSWORD)
    assert "Demasiados intentos fallidos" in stranger.error[0].value  # slowed down


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
    at = _submit(at, login_name="bob", login_password="a new phrase here")
    at.switch_page("pages/account.py").run()
    token = at.session_state["auth_token"]
    at = at.button(key="logout").click().run()
    assert [t.value for t in at.title] == ["Entrar"]
    assert accounts.user_for_token(token) is None


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
