"""In a real browser (the real app and models, headless chromium):

- every page's path works, ``/chat`` included (the default page's own name: it used to show
  Streamlit's "Page not found" dialog);
- notices built from file names (the per-file report, a failed upload's error) render the
  names as typed: no link, image or emphasis made from them;
- bidi controls and zero-width characters in a document never reach the screen: a passage
  with a right-to-left override shows "00.000.1" as written, and a keyword split by a
  zero-width space is found by the question (issue 14, item 7).
"""

from __future__ import annotations

import re

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "__Informe__ [enlace](evil.example) ![img](x.png) `claves`.txt"
EMPTY = "__vacío__ [x](javascript_alert(1)).txt"
TEXT = ("Informe del almacén de Gibara. La con\u200btra\u200dseña del almacén es TULIPÁN-88.\n"
        "El saldo de la cuenta es \u202e00.000.1\u202c pesos.\n")
QUESTION = "¿Cuál es la contraseña del almacén de Gibara?"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Links, images, emphasis or code built from a name's Markdown, anywhere in the page (the
# report's own bold holds the whole name, which is fine).
MARKUP = """() => [
  ...document.querySelectorAll('a[href*="evil"], a[href*="javascript"], img[src="x.png"]'),
  ...[...document.querySelectorAll('strong, em, code')].filter(el =>
      ['Informe', 'claves', 'vacío', 'enlace', 'img', 'x'].includes(el.textContent.trim())),
].map(el => el.outerHTML.slice(0, 160))"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> str:
    require_chromium()
    with streamlit_server(tmp_path_factory.mktemp("notices-data"), "streamlit-notices.log",
                          auth="off") as (url, log_path):
        yield url
        log = log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


def _idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


def test_paths_notices_and_invisible_characters(app_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            for path, heading in (("/", "Chat con tus documentos"), ("/chat", "Chat con tus "
                                  "documentos"), ("/documents", "Documentos"),
                                  ("/settings", "Ajustes")):
                page.goto(app_url + path)
                expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=60_000)
                _idle(page)
                assert not page.get_by_text(re.compile("Page not found|not found",
                                                       re.I)).count(), path

            page.goto(app_url + "/documents")
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([
                {"name": NAME, "mimeType": "text/plain", "buffer": TEXT.encode()},
                {"name": EMPTY, "mimeType": "text/plain", "buffer": b""},
            ])
            page.get_by_role("button", name=re.compile(r"Añadir 2 archivos")).click()
            main = page.get_by_role("main")
            expect(main.get_by_text(f"{NAME} — añadido")).to_be_visible(timeout=120_000)
            error = page.get_by_test_id("stAlertContentError")
            expect(error).to_contain_text(f"«{EMPTY}» está vacío.")
            _idle(page)
            assert page.evaluate(MARKUP) == []

            page.goto(app_url + "/chat")
            box = page.get_by_test_id("stChatInput").locator("textarea")
            expect(box).to_be_enabled(timeout=60_000)
            box.fill(QUESTION)
            box.press("Enter")
            expect(main.get_by_text(re.compile(r"Fuentes:.*Informe"))).to_be_visible(
                timeout=240_000)
            _idle(page, 240_000)
            main.get_by_text(re.compile(r"Ver los pasajes")).click()
            passages = main.get_by_test_id("stExpander").filter(has_text="Ver los pasajes")
            expect(passages.get_by_text(re.compile(r"00\.000\.1 pesos"))).to_be_visible()
            expect(passages.get_by_text(re.compile(r"contraseña del almacén"))).to_be_visible()
            shown = page.evaluate("() => document.body.innerText")
            assert not [c for c in INVISIBLE if c in shown], [hex(ord(c)) for c in INVISIBLE
                                                              if c in shown]
            assert page.evaluate(MARKUP) == []
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "notices.png"), full_page=True)
        finally:
            browser.close()


def test_member_paths_lead_strangers_to_the_login(tmp_path) -> None:
    """With accounts on, a stranger opening /chat, /documents, /settings or /account gets the
    first-account form (new data dir) or the login form, never "Page not found"."""
    from playwright.sync_api import expect, sync_playwright

    from rag.auth import Accounts

    data = tmp_path / "data"
    data.mkdir()
    with streamlit_server(data, "streamlit-member-paths.log", auth="on") as (url, _), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for heading in ("Crea la cuenta de administración", "Entrar"):
                if heading == "Entrar":
                    Accounts(data).create_user("ana", "correct horse battery")
                for path in ("/", "/chat", "/documents", "/settings", "/account"):
                    page.goto(url + path)
                    expect(page.get_by_role("heading", name=heading)).to_be_visible(
                        timeout=60_000)
                    _idle(page)
                    assert not page.get_by_text(re.compile("Page not found", re.I)).count()
        finally:
            browser.close()
