"""The settings page under AppTest: the model picker, persistence to settings.json across
restarts, and the re-index a chunk-size change needs."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

from conftest import expected_hardware_text
from streamlit.testing.v1 import AppTest

from rag import gguf
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/settings.py"
# A path of two or more folders from the root, as a server path would show ("/srv/app/x").
ABSOLUTE_PATH = re.compile(r"(?:^|[\s(«\"'`])/(?:[\w.-]+/){2,}")


def _open(app: AppTest) -> AppTest:
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def test_model_picker_lists_the_default_and_models_dir(app, data_dir, tmp_path,
                                                       monkeypatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(gguf.default_model_path(), models / "otro-modelo.Q4_1.gguf")
    monkeypatch.setenv("RAG_MODELS_DIR", str(models))
    _open(app)
    picker = app.selectbox(key="set_model")
    assert picker.options[0].startswith("SmolLM2-135M-Instruct · 94 MB · Q4_1 · 135M")
    assert picker.options[0].endswith("(incluido)")
    assert picker.options[1].startswith("otro-modelo · 94 MB · Q4_1")
    picker.set_value(str(models / "otro-modelo.Q4_1.gguf"))
    app.form_submit_button[0].click().run()
    assert load_settings().model == str(models / "otro-modelo.Q4_1.gguf")


def test_settings_persist_across_restarts(app, data_dir) -> None:
    _open(app)
    app.slider(key="set_temperature").set_value(0.7)
    app.slider(key="set_top_k").set_value(6)
    app.select_slider(key="set_n_ctx").set_value(4096)
    app.number_input(key="set_gpu_layers").set_value(0)
    app.form_submit_button[0].click().run()
    assert not app.exception
    assert app.success[0].value == "Ajustes guardados."

    stored = json.loads((data_dir / "settings.json").read_text())
    assert stored == {"temperature": 0.7, "top_k": 6, "n_ctx": 4096, "n_gpu_layers": 0}

    restarted = _open(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60))
    assert restarted.slider(key="set_temperature").value == 0.7
    assert restarted.slider(key="set_top_k").value == 6
    assert restarted.select_slider(key="set_n_ctx").value == 4096
    assert restarted.number_input(key="set_gpu_layers").value == 0


def test_saving_without_changes_says_so(app, data_dir) -> None:
    _open(app)
    app.form_submit_button[0].click().run()
    assert app.info[0].value == "No hay cambios."
    assert not (data_dir / "settings.json").exists()


def test_chunk_size_change_offers_the_reindex(app, service) -> None:
    service.ingest_bytes("largo.txt", ("Una frase de relleno con varias palabras. " * 60).encode())
    before = service.stats()[1]
    _open(app)
    app.number_input(key="set_chunk_tokens").set_value(64)
    app.form_submit_button[0].click().run()
    assert load_settings().chunk_tokens == 64
    assert "re-indexa la biblioteca" in app.warning[0].value
    app.button(key="reindex_now").click().run()
    assert not app.exception
    assert app.title[0].value == "Documentos"  # the re-index runs on the documents page
    reports = app.session_state["reports"]
    assert [r["file_name"] for r in reports] == ["largo.txt"]
    assert reports[0]["chunks"] > before
    assert "reindex_needed" not in app.session_state


def test_detected_hardware_is_shown(app, unloaded_model, monkeypatch) -> None:
    import llama_cpp

    monkeypatch.setenv("RAG_N_THREADS", "3")
    _open(app)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["El modelo se ejecuta en"] == expected_hardware_text(3)
    assert metrics["GPU en llama.cpp"] == ("sí" if llama_cpp.llama_supports_gpu_offload() else "no")
    assert metrics["Hilos de CPU"] == "3"


def test_a_missing_model_file_is_reported_not_fatal(app, data_dir) -> None:
    (data_dir / "settings.json").write_text(json.dumps({"model": "/nope/missing.gguf"}))
    app.run()
    assert any("No se encuentra el modelo: missing.gguf" in c.value.replace("\\", "")
               for c in app.sidebar.caption)
    assert not any("/nope" in c.value for c in app.sidebar.caption)
    _open(app)
    picker = app.selectbox(key="set_model")
    assert picker.value == "/nope/missing.gguf"  # still shown, so it can be changed
    picker.set_value("")
    app.form_submit_button[0].click().run()
    assert load_settings().model == ""
    assert not any("No se encuentra" in c.value for c in app.sidebar.caption)


def test_settings_page_shows_no_server_paths(app, data_dir, tmp_path, monkeypatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(gguf.default_model_path(), models / "otro.Q4_1.gguf")
    monkeypatch.setenv("RAG_MODELS_DIR", str(models))
    for model in (str(models / "otro.Q4_1.gguf"), str(tmp_path / "gone" / "perdido.gguf")):
        (data_dir / "settings.json").write_text(json.dumps({"model": model}))
        _open(app)
        picker = app.selectbox(key="set_model")
        shown = [*picker.options, *(e.value for kind in ("caption", "markdown", "error",
                                                         "info", "success", "warning")
                                    for e in getattr(app, kind)),
                 *(e.value for e in app.sidebar.caption), *(m.value for m in app.metric)]
        assert "settings.json" in " ".join(shown)
        hidden = [str(tmp_path), sys.prefix, str(Path(gguf.default_model_path()).parent),
                  str(ROOT)]
        for text in shown:
            unescaped = text.replace("\\", "")
            assert not any(path in unescaped for path in hidden), text
            assert not ABSOLUTE_PATH.search(unescaped), text
        assert "perdido.gguf" in " ".join(picker.options) or model.endswith("otro.Q4_1.gguf")
