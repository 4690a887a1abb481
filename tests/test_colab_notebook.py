"""``notebooks/colab.ipynb`` run top to bottom by nbclient in its test mode
(``CHATDOCS_NOTEBOOK_TEST=1``: this checkout and its environment, a temporary data dir; no
CUDA build, Drive or tunnel). The notebook's own default, the gallery id
``llama-2-7b-chat``, is pulled with ``python -m rag models pull`` from a loopback stand-in
for the hub that serves the packaged small GGUF under the gallery entry's repository and
file name (the real file is 4 GB). The app it starts, with accounts on, the administrator
the notebook created and the pulled model, is then opened in a real browser, logged into,
and stopped."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
from pathlib import Path

import nbformat
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, health
from hub_server import Hub, serve
from nbclient import NotebookClient

from rag import gallery, gguf

NOTEBOOK = ROOT / "notebooks" / "colab.ipynb"
DEFAULT_ID = "llama-2-7b-chat"  # the notebook's MODEL, as in the original project
PASSWORD = "una contraseña de prueba"  # a throwaway account in a temp dir
_TIME = re.compile(r"\((~|instant)[^)]*\)")


def test_every_step_says_what_it_does_and_how_long_it_takes() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    steps = [c.source for c in cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert len(steps) >= 9, steps
    for step in steps:
        heading, _, body = step.partition("\n")
        assert _TIME.search(heading), f"no duration in {heading!r}"
        assert len(body.split()) >= 12, f"{heading!r} does not say what it does"
    for before, cell in itertools.pairwise(cells):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"unexplained code cell:\n{cell.source}"
    assert not any(c.get("outputs") for c in cells if c.cell_type == "code"), "commit it clean"
    text = "\n".join(c.source for c in cells)
    for needed in ["-DGGML_CUDA=on", "models\", \"pull\"", "drive.mount", "start_tunnel",
                   "RAG_AUTH", "first visit", "llama-2-7b-chat"]:
        assert needed in text or needed in (ROOT / "deploy" / "colab.py").read_text(), needed


@pytest.mark.browser
@pytest.mark.slow
def test_notebook_brings_the_app_up_in_test_mode(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    port, data, models = free_port(), tmp_path / "data", tmp_path / "models"
    for key in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CHATDOCS_NOTEBOOK_TEST", "1")
    monkeypatch.setenv("CHATDOCS_PROJECT_DIR", str(ROOT))
    monkeypatch.setenv("CHATDOCS_DATA_DIR", str(data))
    monkeypatch.setenv("CHATDOCS_PORT", str(port))
    monkeypatch.setenv("CHATDOCS_TEST_PASSWORD", PASSWORD)
    monkeypatch.setenv("CHATDOCS_MODELS_DIR", str(models))
    # The gallery's source for the default id; the hub serves the bundled GGUF there.
    entry = gallery.find(DEFAULT_ID)
    assert entry is not None and entry.source == \
        "TheBloke/Llama-2-7B-Chat-GGUF/llama-2-7b-chat.Q4_K_M.gguf"
    pulled = entry.file_name
    hub = Hub(files={entry.source: gguf.default_model_path().read_bytes()})
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        with serve(hub):
            monkeypatch.setenv("HF_ENDPOINT", hub.url)
            client.execute()
        # Pulled by its gallery id: the hub's listing gave the SHA-256 the file was checked
        # against (the gallery pins none), then the file itself.
        assert hub.requests[0][0].startswith("/api/models/TheBloke/Llama-2-7B-Chat-GGUF")
        assert any(path.endswith("/resolve/main/llama-2-7b-chat.Q4_K_M.gguf")
                   for path, _ in hub.requests)
        assert (models / "llama-2-7b-chat.Q4_K_M.gguf").read_bytes() == hub.files[entry.source]
        assert json.loads((data / "settings.json").read_text())["model"] == pulled
        printed = "\n".join(out.get("text", "") for cell in nb.cells
                            for out in cell.get("outputs", []))
        assert f"model: {DEFAULT_ID}" in printed and f"/{pulled}" in printed, printed
        assert f"The app is running on http://127.0.0.1:{port}" in printed, printed
        assert "public address" not in printed and "restored" not in printed
        assert "administrator admin created" in printed
        url = f"http://127.0.0.1:{port}"
        assert health(url) == b"ok"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(url)
                # Accounts are on and the notebook made the administrator: a login form.
                expect(page.get_by_role("heading", name="Entrar")).to_be_visible(timeout=60_000)
                page.get_by_label("Usuario").fill("admin")
                page.get_by_label("Contraseña").fill(PASSWORD)
                page.get_by_role("button", name="Entrar").click()
                expect(page.get_by_role("heading", name="Chat con tus documentos")) \
                    .to_be_visible(timeout=60_000)
                # The app runs the model the notebook pulled (named after its file).
                sidebar = page.get_by_test_id("stSidebar")
                expect(sidebar.get_by_text(re.compile(r"llama-2-7b-chat\.Q4_K_M"))) \
                    .to_be_visible(timeout=60_000)
            finally:
                browser.close()
        log = (tmp_path / "chatdocs-app.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
    finally:
        pid_file = data / "app.pid"
        if pid_file.exists():
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
