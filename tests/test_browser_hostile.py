"""Hostile content in a real browser: the real app (``streamlit run``, real models) on an
empty data dir, driven by headless chromium.

A .md and a .txt whose text and whose file names carry ``<script>``, ``<img onerror>``, a
Markdown image pointing at 127.0.0.1:9, a ``javascript:`` link, a bare URL and ``<b>`` are
uploaded through the Documents page's uploader. Everywhere they are shown (the uploader's
file list, the per-file report, the library table, the chat's sources and passages) they
must read as the literal text, while the page runs no script (``window.__pwned`` stays
undefined), holds no ``<img>``/``<a>``/``<b>`` built from them, and requests nothing but the
app itself (every request is recorded; anything off the app's origin is aborted).

File names go through the engine's ``safe_file_name`` (basename, ``<>:"|?*`` -> ``_``)
before anything shows them, so the report, the table and the sources show that name,
verbatim (chromium sends a ``"`` in an upload's name as ``%22``, and Streamlit keeps it).
A screenshot of the chat is saved to ``test-artifacts/hostile.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from rag.loaders import safe_file_name

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# Whole passages in the prompt and under "Ver los pasajes" (by default each is cut to the
# sentences nearest the question): every hostile string must reach the screen.
SERVER_SETTINGS = {"passage_tokens": "0"}

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
IMAGE = "![x](http://127.0.0.1:9/evil.png)"
LINK = "[click](javascript:alert(1))"
URL = "http://evil.example/"
BOLD = "<b>bold?</b>"
HOSTILE = [SCRIPT, IMG, IMAGE, LINK, URL, BOLD]
QUESTION = "What is the secret code of the Zorblax vault?"
# Browsers keep a "/" in an uploaded file's name; the engine keeps what follows the last one.
# The .md name carries every string (only its tail survives); the .txt name carries
# slash-free variants, so more of them reach the screen.
MD_NAME = f"{BOLD} {SCRIPT} {URL} {IMAGE} {IMG} {LINK} vault.md"
TXT_NAME = ("<script>window.__pwned=1<script> <img src=x onerror=alert(2)> ![x](evil.png) "
            "[a](javascript:alert(1)) <b>bold?<b>.txt")  # 117 characters once made safe
MD_TEXT = (f"# Vault notes {BOLD} {IMAGE}\n\n"
           f"The secret code of the Zorblax vault is 4417. {SCRIPT}\n"
           f"{IMG} {IMAGE}\n{LINK} {URL} {BOLD}\n")
TXT_TEXT = (f"Zorblax vault memo. The secret code of the Zorblax vault is 4417.\n"
            f"{SCRIPT} {IMG}\n{IMAGE} {LINK}\n{URL} {BOLD}\n")

# Anything the hostile strings could have become, anywhere in the document.
INJECTED = """() => {
  const bad = [];
  const html = (el) => el.outerHTML.slice(0, 200);
  for (const img of document.querySelectorAll('img')) {
    const src = img.getAttribute('src') || '';
    if (src === 'x' || src.includes('evil') || src.includes('127.0.0.1:9')) bad.push(html(img));
  }
  for (const a of document.querySelectorAll('a')) {
    const href = (a.getAttribute('href') || '').replace(/\\s/g, '').toLowerCase();
    if (href.startsWith('javascript:') || href.includes('evil') || href.includes(':9/'))
      bad.push(html(a));
  }
  for (const b of document.querySelectorAll('b')) if (b.textContent.includes('bold?'))
    bad.push(html(b));
  for (const s of document.querySelectorAll('strong, em'))
    if (['bold?', 'x', 'pwned=2'].includes(s.textContent.trim())) bad.push(html(s));
  for (const s of document.querySelectorAll('script'))
    if (s.textContent.includes('__pwned')) bad.push(html(s));
  for (const el of document.querySelectorAll('[onerror], iframe')) bad.push(html(el));
  // emphasis made from a name's or a text's underscores/asterisks would nest
  for (const el of document.querySelectorAll('strong strong, strong em, em strong, em em'))
    bad.push(html(el));
  return bad;
}"""


def _literal(text: str) -> re.Pattern[str]:
    """``text`` as shown by ``i18n.plain``: a word joiner may follow a URL scheme."""
    return re.compile(re.escape(text).replace(":", "\u2060?:"))


def _idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


def _assert_inert(page, where: str) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined", where
    bad = page.evaluate(INJECTED)
    assert not bad, f"{where}: {bad}"
    assert not page.get_by_test_id("stException").count(), where
    errors = page.get_by_test_id("stAlertContentError").all_inner_texts()
    assert not errors, f"{where}: {errors}"


def test_hostile_names_and_text_render_as_plain_text(server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, log_path = server
    names = {kind: safe_file_name(raw.replace('"', "%22"))  # what the app will show
             for kind, raw in (("md", MD_NAME), ("txt", TXT_NAME))}
    assert names == {
        "md": "evil.png) _img src=x onerror=%22window.__pwned=2%22_ "
              "[click](javascript_alert(1)) vault.md",
        "txt": "_script_window.__pwned=1_script_ _img src=x onerror=alert(2)_ ![x](evil.png) "
               "[a](javascript_alert(1)) _b_bold__b_.txt"}
    requests: list[str] = []
    aborted: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def block(route) -> None:
                aborted.append(route.request.url)
                route.abort()

            context.route(lambda u: not u.startswith(url), block)  # loopback app only
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.set_default_timeout(60_000)
            page.goto(f"{url}/documents")
            expect(page.get_by_role("heading", name="Documentos")).to_be_visible()

            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([
                {"name": MD_NAME, "mimeType": "text/markdown", "buffer": MD_TEXT.encode()},
                {"name": TXT_NAME, "mimeType": "text/plain", "buffer": TXT_TEXT.encode()},
            ])
            uploader = page.get_by_test_id("stFileUploader")
            for raw in (MD_NAME, TXT_NAME):  # the raw names in the file list (shortened
                # on screen as "<b>bold...) vault.md", in full on its remove button)
                expect(uploader.get_by_role("button", name=f"Remove {raw}", exact=True)
                       ).to_be_visible()
            expect(uploader.get_by_text("<b>bold...) vault.md")).to_be_visible()
            _assert_inert(page, "uploader")

            page.get_by_role("button", name=re.compile(r"Añadir 2 archivos")).click()
            main = page.get_by_role("main")  # (no stMain test id on the chat page)
            for name in names.values():  # the per-file report
                expect(main.get_by_text(f"{name} — añadido")).to_be_visible(
                    timeout=90_000)
            _idle(page)
            grid = page.get_by_test_id("stDataFrame")  # glide: a canvas + an a11y table
            expect(grid).to_be_visible()
            column = grid.locator('td[aria-colindex="1"]')  # the "Documento" cells
            expect(column).to_have_count(2)
            assert sorted(column.all_text_contents()) == sorted(names.values())
            assert not grid.locator("a, img, b, strong, script").count()
            _assert_inert(page, "documents")

            page.get_by_test_id("stSidebarNav").get_by_text("Chat").click()
            box = page.get_by_test_id("stChatInput").locator("textarea")
            expect(box).to_be_enabled()
            box.fill(QUESTION)
            box.press("Enter")
            sources = main.get_by_text(re.compile(r"Fuentes:.*\[2\]"))  # both files cited
            expect(sources).to_be_visible(timeout=90_000)
            _idle(page, 90_000)
            cited = sources.inner_text()
            for name in names.values():
                assert name in cited, cited
            main.get_by_text(re.compile(r"Ver los pasajes")).click()
            passages = main.get_by_test_id("stExpander").filter(has_text="Ver los pasajes")
            for text in HOSTILE:
                expect(passages.get_by_text(_literal(text)).first).to_be_visible()
            heading = f"Vault notes {BOLD} {IMAGE}"  # the Markdown heading, also inert
            expect(passages.get_by_text(_literal(heading)).first).to_be_visible()
            shown = passages.inner_text().replace("\u2060", "")
            for text in HOSTILE:
                assert text in shown, (text, shown)
            _assert_inert(page, "chat")
            page.set_viewport_size({"width": 1280, "height": 1400})
            page.wait_for_timeout(600)
            page.screenshot(path=str(ARTIFACTS / "hostile.png"), full_page=True)
            _assert_inert(page, "chat, after the screenshot")
        finally:
            browser.close()
    assert not aborted, aborted
    assert not [r for r in requests if "127.0.0.1:9/" in r or "evil" in r], requests
    assert all(r.startswith(url) for r in requests), requests
    server_log = log_path.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
