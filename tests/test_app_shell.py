"""The app's shell: imports of the UI files, router, sidebar, language switch, and error
handling (engine errors translated, unexpected ones friendly, never a traceback)."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest
from conftest import expected_hardware_text

from rag import errors, i18n
from rag.service import RagService

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py")),
            *sorted((ROOT / "pages").glob("*.py"))]
PAGES = ["pages/chat.py", "pages/documents.py", "pages/settings.py"]


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add((node.module or "").split(".")[0])
    return names


def test_first_run_leaves_streamlit_legacy_pages_mode(fake_service) -> None:
    """A fresh process (where pages/ starts the first run in Streamlit's legacy multipage
    mode) reaches the chat page through the app's own router and sidebar."""
    from streamlit.testing.v1 import AppTest

    assert len(UI_FILES) == 11
    first = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not first.exception
    assert first.segmented_control(key="ui_lang_choice").value == "es"
    assert first.chat_input  # the chat page, reached through st.navigation


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_files_import_only_streamlit_rag_and_the_standard_library(path: Path) -> None:
    third_party = _top_level_imports(path) - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party <= {"streamlit", "rag", "ui"}, \
        f"{path.name} imports {third_party}"


def test_ui_files_never_render_unsafe_html() -> None:
    for path in UI_FILES:
        source = path.read_text(encoding="utf-8")
        assert "unsafe_allow_html" not in source and "st.html" not in source, path.name


def test_every_page_renders_without_exceptions(app) -> None:
    app.run()
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, (page, app.exception)
        assert not app.error, (page, [e.value for e in app.error])
        assert app.title, page


def test_sidebar_shows_model_hardware_offline_and_library_size(app, service, unloaded_model,
                                                               monkeypatch) -> None:
    service.ingest_bytes("a.txt", b"Texto de prueba sobre manzanas y peras.")
    monkeypatch.setenv("RAG_N_THREADS", "5")
    app.run()
    sidebar = " ".join([m.value for m in app.sidebar.markdown]
                       + [c.value for c in app.sidebar.caption])
    assert "SmolLM2" in sidebar  # the bundled default model, read from its GGUF header
    assert i18n.plain(expected_hardware_text(5)) in sidebar  # the real detection
    assert "Sin conexión: ninguna llamada de red" in sidebar
    assert "1 documento · 1 fragmento" in sidebar


def test_hardware_before_the_model_is_loaded_comes_from_settings(data_dir, monkeypatch) -> None:
    """No model loaded: the expected placement (llama.cpp build + GGUF header)."""
    from rag.settings import load_settings

    monkeypatch.setenv("RAG_N_THREADS", "3")
    hardware = RagService(load_settings()).hardware()
    assert hardware.threads == 3
    assert hardware.describe() == expected_hardware_text(3, "en")


def test_spanish_by_default_and_the_switch_changes_every_page(app) -> None:
    app.run()
    assert app.title[0].value == "Chat con tus documentos"
    app.segmented_control(key="ui_lang_choice").set_value("en").run()
    assert app.title[0].value == "Chat with your documents"
    assert any("Offline: no network calls" in c.value for c in app.sidebar.caption)
    app.switch_page("pages/documents.py").run()
    assert app.title[0].value == "Documents"
    app.switch_page("pages/settings.py").run()
    assert app.title[0].value == "Settings"
    app.segmented_control(key="ui_lang_choice").set_value("es").run()
    assert app.title[0].value == "Ajustes"


def test_unexpected_errors_show_a_friendly_message_not_a_traceback(app, monkeypatch) -> None:
    def broken(self):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(RagService, "list_documents", broken)
    app.run()
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception
        shown = " ".join(e.value for e in app.error)
        if page != PAGES[2]:  # the settings page does not list documents
            assert i18n.t("error.unexpected", "es") in shown
        assert "secret" not in shown


def test_engine_errors_are_translated(app, monkeypatch) -> None:
    def mismatch(self):
        raise errors.EmbedderMismatchError("indexed with x", stored="x", selected="y")

    monkeypatch.setattr(RagService, "list_documents", mismatch)
    app.run()
    assert not app.exception
    assert "La biblioteca se indexó con otro modelo de vectores (x)" in app.error[0].value
    app.switch_page("pages/documents.py").run()
    assert app.button(key="reindex_fix")  # the fix is offered where it can be applied


def _served_paths(app, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The URL paths the router gives ``st.navigation`` on one run."""
    import streamlit as st

    seen: set[str] = set()
    navigation = st.navigation

    def recording(pages, *args, **kwargs):
        seen.update(page.url_path for page in pages)
        return navigation(pages, *args, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    app.run()
    assert not app.exception
    return seen


def test_every_page_has_a_path_of_its_own_name(app, monkeypatch) -> None:
    """``/chat`` (the default page, also served at ``/``), ``/documents`` and ``/settings``
    open their page, not Streamlit's "Page not found" dialog."""
    assert {"chat", "documents", "settings"} <= _served_paths(app, monkeypatch)


def test_strangers_opening_a_members_path_get_the_login_form(app, monkeypatch) -> None:
    from rag.auth import Accounts

    monkeypatch.setenv("RAG_AUTH", "on")
    Accounts(os.environ["RAG_DATA_DIR"]).create_user("ana", "una clave bien larga")
    assert {"chat", "documents", "settings", "account"} <= _served_paths(
        app, monkeypatch)


@pytest.mark.parametrize(("offload", "gpu_layers", "expected"), [
    (True, "-1", "GPU: {n}/{n} layers offloaded"), (True, "8", "GPU: 8/{n} layers offloaded"),
    (True, "0", "CPU, 2 threads"), (False, "-1", "CPU, 2 threads")])
def test_hardware_on_a_gpu_build(data_dir, monkeypatch, offload, gpu_layers, expected) -> None:
    """The GPU branch, whatever this machine's build: llama.cpp reporting GPU offload gives
    "GPU: N/N" for the bundled model (N from its GGUF header), unless the settings say CPU."""
    import llama_cpp

    from rag import components, gguf
    from rag.settings import load_settings

    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: offload)
    components._placement.cache_clear()
    monkeypatch.setenv("RAG_N_THREADS", "2")
    monkeypatch.setenv("RAG_N_GPU_LAYERS", gpu_layers)
    try:
        hardware = RagService(load_settings()).hardware()
    finally:
        components._placement.cache_clear()
    meta = gguf.read_metadata(str(gguf.default_model_path()))
    layers = int(meta[f"{meta['general.architecture']}.block_count"]) + 1
    assert hardware.describe() == expected.format(n=layers)
    assert i18n.hardware_text(hardware, "es").startswith("GPU:" if "GPU" in expected else "CPU")


def test_sidebar_names_the_quantization_that_runs(app, unloaded_model, tmp_path,
                                                  monkeypatch) -> None:
    """The packaged Q4_1 model runs as its 8-bit copy once that is made: the sidebar says
    Q8_0 then, Q4_1 before."""
    from rag import gguf, requantize

    make_copy = requantize.eight_bit_copy
    monkeypatch.setattr(requantize, "eight_bit_copy", lambda source, _: source)  # warm-up
    models = tmp_path / "models"
    monkeypatch.setenv("RAG_MODELS_DIR", str(models))

    def sidebar() -> str:
        app.run()
        return " ".join(m.value for m in app.sidebar.markdown).replace("\\", "")

    shown = sidebar()
    assert "SmolLM2" in shown and "Q4_1" in shown and "Q8_0" not in shown, shown
    assert make_copy(gguf.default_model_path(), models).parent.name == requantize.CACHE_DIR
    shown = sidebar()
    assert "SmolLM2" in shown and "Q8_0" in shown and "Q4_1" not in shown, shown
