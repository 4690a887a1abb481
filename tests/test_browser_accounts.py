"""Accounts in a real browser against the real server (``streamlit run serve.py``, as
``make run`` starts it; real models): adoption of a single-user data dir by the first
account (documents, chats and settings, nothing changed), two people with a same-named
file who each see only their own (answers, sources, document lists, conversations), the login kept
across a refresh and a server restart, a copied cookie refused after logout, failed
logins slowed down, and no password or session token stored in the clear."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    require_chromium,
    server_env,
    streamlit_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORDS = {"ana": "ana's long passphrase 1", "bob": "bob's long passphrase 2"}
CODES = {"ana": "AZUL-4417", "bob": "ROJO-9023"}
QUESTIONS = {"ana": "What is the vault code of the north office?",
             "bob": "Which code opens the vault of the north office?"}
TITLES = {name: q[:24] for name, q in QUESTIONS.items()}  # the sidebar shortens titles
LEGACY = "The lighthouse keeper of Punta Brava is named Olegario Vidal."


def _idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


def _legacy_data_dir(data: Path, tmp: Path) -> dict[str, str]:
    """A single-user data dir as it was before accounts: a document, a saved chat and a
    setting. Returns the digest of each of its files."""
    from rag.chats import ChatStore

    legacy = tmp / "keeper.txt"
    legacy.write_text(LEGACY, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "rag", "ingest", str(legacy), "-q"], cwd=ROOT,
                   env=server_env(data), check=True, capture_output=True, timeout=300)
    store = ChatStore(data, "default")
    chat = store.new_chat()
    chat["turns"] = [{"role": "user", "content": "Who keeps the Punta Brava lighthouse?"},
                     {"role": "assistant", "content": "Olegario Vidal.", "sources": []}]
    store.save(chat)
    (data / "settings.json").write_text('{"top_k": 7}\n', encoding="utf-8")
    return _digests(data)


def _digests(data: Path) -> dict[str, str]:
    return {path.relative_to(data).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(data.rglob("*")) if path.is_file()}


def _document_names(page, count: int) -> list[str]:
    """The first column ("Documento") of the Documents page's table (glide's a11y table),
    once it has ``count`` rows."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_text("Documentos").click()
    column = page.get_by_test_id("stDataFrame").locator('td[aria-colindex="1"]')
    expect(column).to_have_count(count)
    _idle(page)
    return sorted(column.all_text_contents())


def _conversations(page) -> str:
    """The sidebar of the Chat page, where the saved conversations are listed."""
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_text("Chat").click()
    expect(page.get_by_role("heading", name="Chat con tus documentos")).to_be_visible()
    _idle(page)
    return page.get_by_test_id("stSidebar").inner_text()


def _signed_in(page, name: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSidebar").get_by_text(f"Sesión de {name}")).to_be_visible()


def _log_in(page, url: str, name: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_role("heading", name="Entrar")).to_be_visible()
    page.get_by_label("Usuario").fill(name)
    page.get_by_label("Contraseña", exact=True).fill(password)
    page.get_by_role("button", name="Entrar").click()


def _upload_and_ask(page, name: str, folder: Path) -> str:
    from playwright.sync_api import expect

    path = folder / name / "codes.txt"
    path.parent.mkdir()
    path.write_text(f"Security notes.\n\nThe vault code of the north office is {CODES[name]}.",
                    encoding="utf-8")
    page.get_by_test_id("stSidebarNav").get_by_text("Documentos").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    page.get_by_role("button", name=re.compile(r"Añadir 1 archivo")).click()
    expect(page.get_by_text("codes.txt — añadido")).to_be_visible(timeout=120_000)
    _idle(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Chat").click()
    box = page.get_by_test_id("stChatInput").locator("textarea")
    expect(box).to_be_enabled()
    box.fill(QUESTIONS[name])
    box.press("Enter")
    expect(page.get_by_text(re.compile(r"Fuentes:.*codes\.txt")).first).to_be_visible(
        timeout=240_000)
    _idle(page, 240_000)
    page.get_by_text(re.compile(r"Ver los pasajes")).first.click()
    page.wait_for_timeout(500)
    return page.get_by_test_id("stMainBlockContainer").inner_text()


def test_accounts_end_to_end(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    data = tmp_path / "data"
    data.mkdir()
    legacy = _legacy_data_dir(data, tmp_path)
    settings = {"auth": "on", "max_tokens": "48", "script": "serve.py"}
    tokens: dict[str, str] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with streamlit_server(data, "streamlit-accounts.log", **settings) as (url, log):
                # first visit: the first account, which adopts the existing library and chat
                ana_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                ana = ana_ctx.new_page()
                ana.set_default_timeout(60_000)
                ana.goto(url)
                expect(ana.get_by_role("heading", name="Crea la cuenta de administración")) \
                    .to_be_visible()
                ana.get_by_label("Usuario").fill("ana")
                ana.get_by_label("Contraseña", exact=True).fill(PASSWORDS["ana"])
                ana.get_by_label("Repite la contraseña").fill(PASSWORDS["ana"])
                ana.get_by_role("button", name="Crear la cuenta").click()
                _signed_in(ana, "ana")
                expect(ana.get_by_role("button", name="Who keeps the Punta Brava")) \
                    .to_be_visible()  # the saved chat, adopted
                assert _document_names(ana, 1) == ["keeper.txt"]  # the library, adopted
                ana.get_by_test_id("stSidebarNav").get_by_text("Ajustes").click()
                top_k = ana.get_by_test_id("stSlider").filter(has_text="top-k")
                expect(top_k.get_by_test_id("stSliderThumbValue")).to_have_text("7")  # kept
                _idle(ana)
                now = _digests(data)
                assert {path: now.get(path) for path in legacy} == legacy  # nothing changed
                cookie = next(c for c in ana_ctx.cookies() if c["name"] == "rag_session")
                assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
                tokens["ana"] = cookie["value"]

                # a second account, from the command line
                subprocess.run([sys.executable, "-m", "rag", "users", "add", "bob",
                                "--password-stdin"], input=PASSWORDS["bob"] + "\n", text=True,
                               cwd=ROOT, env=server_env(data), check=True, timeout=120)
                bob_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                bob = bob_ctx.new_page()
                bob.set_default_timeout(60_000)
                _log_in(bob, url, "bob", PASSWORDS["bob"])
                _signed_in(bob, "bob")
                expect(bob.get_by_text("Aún no hay documentos")).to_be_visible()
                tokens["bob"] = next(c["value"] for c in bob_ctx.cookies()
                                     if c["name"] == "rag_session")

                # the same file name with different content: each sees only their own
                for name, page, other in (("ana", ana, "bob"), ("bob", bob, "ana")):
                    shown = _upload_and_ask(page, name, tmp_path)
                    assert CODES[name] in shown and CODES[other] not in shown, shown
                    assert "keeper.txt" not in shown or name == "ana"
                # once both asked: each list of conversations and of documents is their own
                for name, page, other in (("ana", ana, "bob"), ("bob", bob, "ana")):
                    conversations = _conversations(page)
                    assert TITLES[name] in conversations, conversations
                    assert TITLES[other] not in conversations, conversations
                    assert ("Punta Brava" in conversations) == (name == "ana")
                    own = ["codes.txt", "keeper.txt"] if name == "ana" else ["codes.txt"]
                    assert _document_names(page, len(own)) == own
                    page.screenshot(path=str(ARTIFACTS / f"accounts-{name}-documents.png"))
                _conversations(ana)
                ana.reload()  # a refresh keeps the login
                _signed_in(ana, "ana")
                expect(ana.get_by_role("button", name=TITLES["ana"])).to_be_visible()

                # logout; the copied cookie no longer opens anything
                copied = ana_ctx.cookies()
                ana.get_by_test_id("stSidebarNav").get_by_text("Cuenta").click()
                ana.get_by_role("button", name="Cerrar sesión").click()
                expect(ana.get_by_role("heading", name="Entrar")).to_be_visible()
                thief_ctx = browser.new_context()
                thief_ctx.add_cookies(copied)
                thief = thief_ctx.new_page()
                thief.goto(url)
                expect(thief.get_by_role("heading", name="Entrar")).to_be_visible()
                _idle(thief)
                assert "Sesión de" not in thief.get_by_test_id("stSidebar").inner_text()

                # wrong passwords fail, then a loop of them is slowed down
                # A lock that expires while a slow browser types the next guess lets that
                # guess fail again and doubles the lock, so the waits grow 1, 2, 4, 8 s...
                # in however many attempts the machine's speed allows (bounded here).
                waits = []  # per attempt: 0 for "wrong password", else the wait announced
                for attempt in range(40):
                    _log_in(thief, url, "ana", f"guess number {attempt}")
                    alert = thief.get_by_test_id("stAlertContentError")
                    expect(alert).to_be_visible()
                    text = alert.inner_text()
                    locked = re.search(r"Demasiados intentos fallidos\. Espera (\d+) s", text)
                    assert locked or "Usuario o contraseña incorrectos." in text, text
                    waits.append(int(locked.group(1)) if locked else 0)
                    if waits[-1] >= 8:
                        break
                assert waits[:3] == [0, 0, 0] and waits[-1] >= 8, waits
                _log_in(thief, url, "ana", PASSWORDS["ana"])  # even the right one waits
                expect(thief.get_by_text(re.compile("Demasiados intentos fallidos"))) \
                    .to_be_visible()
                assert "Sesión de" not in thief.get_by_test_id("stSidebar").inner_text()
                thief.screenshot(path=str(ARTIFACTS / "accounts-login-slowed.png"))
            assert "Traceback" not in log.read_text(errors="replace")

            # a server restart keeps bob's login and his conversation
            with streamlit_server(data, "streamlit-accounts-restart.log", **settings) \
                    as (url, log):
                bob.goto(url)
                _signed_in(bob, "bob")
                expect(bob.get_by_role("button", name=TITLES["bob"])).to_be_visible()
                bob.get_by_role("button", name=TITLES["bob"]).click()
                expect(bob.get_by_text(CODES["bob"]).first).to_be_visible()
        finally:
            browser.close()

    # nothing under the data dir holds a password or a raw session token
    secrets = [p.encode() for p in PASSWORDS.values()] + [t.encode() for t in tokens.values()]
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(secret in content for secret in secrets), path
