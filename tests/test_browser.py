"""The real app in a real browser: ``streamlit run app.py`` with the real models (SmolLM2
GGUF, the multilingual USE embedder), driven by Debian's headless chromium through playwright.

Uploads a PDF whose distinctive fact is on page 2, asks about it, waits for the streamed
answer and checks that a source names the file and page 2. Saves a screenshot of each page
to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from pdf_factory import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# English text: the bundled 135M model answers far better in English; the UI stays Spanish.
PAGES = [
    "Annual report of the Lagunaverde cooperative.\nThis document summarizes the year and "
    "the projects on the coast.",
    "2.1 The Punta Lagunaverde lighthouse\n\nThe Punta Lagunaverde lighthouse is 47 metres tall.\n"
    "It was built in 1911 by the engineer Tomas Arriaga.\nIts light can be seen 30 miles away.",
    "Conclusions.\nThe cooperative will keep caring for the coast and its historic buildings.",
]
QUESTION = "How tall is the Punta Lagunaverde lighthouse?"
PDF_NAME = "lighthouse-report.pdf"


def _idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script run is over (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


def test_upload_ask_and_screenshots(server: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, log_path = server
    expect.set_options(timeout=60_000)  # a loaded 2-core machine renders slowly
    pdf = tmp_path / PDF_NAME
    pdf.write_bytes(make_pdf(PAGES))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)
            page.goto(url)
            expect(page.get_by_role("heading", name="Chat con tus documentos")).to_be_visible()
            page.get_by_test_id("stSidebarNav").get_by_text("Documentos").click()
            expect(page.get_by_role("heading", name="Documentos")).to_be_visible()
            expect(page.get_by_text("Sin conexión: ninguna llamada de red")).to_be_visible()

            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(pdf))
            add = page.get_by_role("button", name=re.compile(r"Añadir 1 archivo"))
            expect(add).to_be_enabled()
            add.click()
            expect(page.get_by_text(f"{PDF_NAME} — añadido")).to_be_visible(timeout=180_000)
            expect(page.get_by_test_id("stDataFrame")).to_be_visible()
            _idle(page)
            page.screenshot(path=str(ARTIFACTS / "documents.png"))

            page.get_by_test_id("stSidebarNav").get_by_text("Chat").click()
            box = page.get_by_test_id("stChatInput").locator("textarea")
            expect(box).to_be_enabled()
            box.fill(QUESTION)
            box.press("Enter")
            sources = page.get_by_text(re.compile(  # page and section
                rf"Fuentes:.*{re.escape(PDF_NAME)}, pág\. 2 · 2\.1 The Punta Lagunaverde"))
            expect(sources.first).to_be_visible(timeout=240_000)
            _idle(page, 240_000)
            answer = page.get_by_test_id("stChatMessage").nth(1).inner_text()
            assert answer.strip(), "the streamed answer is empty"
            page.get_by_text(re.compile(r"Ver los pasajes")).first.click()
            page.set_viewport_size({"width": 1280, "height": 1300})  # the whole exchange
            page.wait_for_timeout(800)
            page.screenshot(path=str(ARTIFACTS / "chat.png"))
            page.set_viewport_size({"width": 1280, "height": 860})

            page.get_by_test_id("stSidebarNav").get_by_text("Ajustes").click()
            expect(page.get_by_role("heading", name="Ajustes")).to_be_visible()
            expect(page.get_by_text("Hardware detectado")).to_be_visible()
            _idle(page)
            page.screenshot(path=str(ARTIFACTS / "settings.png"))
            errors = page.get_by_test_id("stAlertContentError").all_inner_texts()
            assert not errors, errors
        finally:
            browser.close()
    server_log = log_path.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
