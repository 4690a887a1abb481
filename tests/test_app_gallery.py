"""The Settings page's model gallery under AppTest, downloading from a loopback hub
(``HF_ENDPOINT``): progress, the model appearing in the picker, "use this model", and
offline saying so plainly."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from hub_server import Hub, serve
from streamlit.testing.v1 import AppTest

from rag import download_jobs, gallery
from rag.settings import load_settings

PAGE = "pages/settings.py"
MODEL = gallery.find("qwen2.5-1.5b")
PAYLOAD = b"GGUF" + bytes(range(256)) * 4096


def _open(app: AppTest) -> AppTest:
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def _wait_for_downloads(models_dir: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while any(j.status == "running" for j in download_jobs.jobs(models_dir)):
        assert time.monotonic() < deadline, download_jobs.jobs(models_dir)
        time.sleep(0.05)


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("RAG_MODELS_DIR", str(folder))
    return folder


def test_gallery_downloads_a_model_then_uses_it(app, data_dir, models_dir,
                                                monkeypatch) -> None:
    assert MODEL is not None
    with serve(Hub(files={MODEL.source: PAYLOAD})) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        _open(app)
        facts = " ".join(c.value for c in app.caption).replace("\\", "")
        assert "Apache-2.0" in facts and "tokens/s aquí" in facts and "RAM" in facts
        app.button(key="gal_qwen2.5-1.5b").click().run()
        assert not app.exception, app.exception
        _wait_for_downloads(models_dir)
        app.run()
    assert not app.exception, app.exception
    assert (models_dir / MODEL.file_name).read_bytes() == PAYLOAD
    assert [s.value.replace("\\", "") for s in app.success] == [
        f"Descargado: {MODEL.file_name}. Elígelo arriba o pulsa «Usar este modelo»."]
    picker = app.selectbox(key="set_model")
    assert any(o.startswith("Qwen2.5-1.5B-Instruct-Q4_K_M · ") for o in picker.options)
    use = app.button(key="gal_qwen2.5-1.5b")
    assert use.label == "Usar este modelo"
    use.click().run()
    assert load_settings().model == MODEL.file_name
    assert app.button(key="gal_qwen2.5-1.5b").label == "En uso"


def test_gallery_offline_says_so_and_keeps_nothing(app, data_dir, models_dir,
                                                   monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    _open(app)
    app.button(key="gal_llama-3.2-1b").click().run()
    _wait_for_downloads(models_dir)
    app.run()
    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert any("Sin conexión" in e and "la galería necesita Internet" in e.replace("La", "la")
               for e in errors), errors
    assert not models_dir.exists() or not list(models_dir.iterdir())
