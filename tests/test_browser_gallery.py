"""The model gallery in a real browser: the Settings page downloads a gallery model from
a loopback hub (``HF_ENDPOINT``, throttled so the progress bar shows), then lists it.
Screenshot: ``test-artifacts/gallery.png``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_server
from hub_server import Hub, serve

from rag import gallery

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODEL = gallery.find("llama-3.2-1b")
CARD = ".st-key-gallery_card_llama-3-2-1b"  # the model's bordered card (its container key)


def test_gallery_download_shows_progress_then_the_model(tmp_path: Path, monkeypatch) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    assert MODEL is not None
    payload = b"GGUF" + bytes(6 << 20)
    models = tmp_path / "models"
    with serve(Hub(files={MODEL.source: payload}, seconds_per_mb=0.5)) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        data = tmp_path / "data"
        data.mkdir()
        with streamlit_server(data, "streamlit-gallery.log", models_dir=str(models)) as (
                url, _), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                page.set_default_timeout(60_000)
                expect.set_options(timeout=60_000)  # a loaded 2-core machine renders slowly
                page.goto(url)
                expect(page.get_by_role("heading", name="Chat con tus documentos")
                       ).to_be_visible()
                page.get_by_test_id("stSidebarNav").get_by_text("Ajustes").click()
                expect(page.get_by_role("heading", name="Galería de modelos")).to_be_visible()
                card = page.locator(CARD)
                expect(card.get_by_text("Llama 3.2 Community License")).to_be_visible()
                card.get_by_role("button", name="Descargar").click()
                expect(page.get_by_text(re.compile(r"Descargando .*: \d+ de 6 MB"))
                       ).to_be_visible(timeout=30_000)
                page.screenshot(path=str(ARTIFACTS / "gallery-progress.png"))
                expect(page.get_by_text(re.compile(r"Descargado: Llama-3\.2-1B"))
                       ).to_be_visible(timeout=60_000)
                card = page.locator(CARD)
                expect(card.get_by_role("button", name="Usar este modelo")).to_be_visible()
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)
            finally:
                browser.close()
    assert (models / MODEL.file_name).read_bytes() == payload
