"""Shared fixtures: an isolated data dir per test, and deterministic fake models for fast
app tests.

How the app gets its service: every page calls ``rag.service.create_service(settings)``
through ``st.cache_resource``. The ``fake_service`` fixture replaces that factory with one
that builds ``RagService(settings, embedder=FakeEmbedder(), llm=FakeLLM())`` and registers
the fake embedder under the name ``fake`` (``RAG_EMBEDDER=fake``), so the library is opened
with the fake's name and dimension too. Streamlit's caches are cleared around each test.

For the browser tests, ``server`` runs the real app (``streamlit run``, real models) on an
empty data dir, one per test module (see ``browser_support.py``).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser_support import require_chromium, streamlit_server

from rag import embedding
from rag import service as service_module
from rag.embedding import Embedder
from rag.llm import LLM, Hardware, Message
from rag.service import RagService
from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
_WORD = re.compile(r"\w+", re.UNICODE)
_DOCUMENT = re.compile(r'<document id="1"[^>]*>\n(.*?)\n</document>', re.S)
_TEXT = re.compile(r"<text>\n(.*?)\n</text>", re.S)


class FakeEmbedder(Embedder):
    """Hashed bag of words: texts that share words get similar vectors."""

    name = "fake-hashing"
    dim = 64
    max_tokens = 256

    def __init__(self, dtype: str = "auto", threads: int = 0) -> None:
        pass

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, 0] = 0.01  # never the zero vector
            for word in _WORD.findall(text.lower()):
                code = zlib.crc32(word.encode("utf-8"))
                vectors[row, code % self.dim] += 1.0 if code & 1 << 20 else -1.0
        return vectors

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(text.split()) for text in texts]


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.search(r"^(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


class FakeLLM(LLM):
    """Answers by quoting the first sentence of the first source; records every call."""

    name = "fake-llm"
    n_ctx = 2048

    def __init__(self) -> None:
        self.hardware = Hardware(gpu=False, layers_offloaded=0, layers_total=31, threads=2)
        self.calls: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def reply(self, messages: list[Message]) -> str:
        prompt = messages[-1]["content"]
        if match := _DOCUMENT.search(prompt):
            return f"Según [1]: {first_sentence(match.group(1))}"
        if match := _TEXT.search(prompt):
            return f"Resumen: {first_sentence(match.group(1))}"
        return prompt.rsplit("user:", 1)[-1].strip()  # condense: the question itself

    def stream_chat(self, messages: list[Message], max_tokens: int, temperature: float,
                    stop: list[str] | None = None) -> Iterator[str]:
        self.calls.append(messages)
        for word in self.reply(messages).split(" "):
            yield word + " "


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir for this test (``RAG_DATA_DIR``); other ``RAG_*`` unset."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("RAG_DATA_DIR", str(path))
    return path


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def fake_service(data_dir: Path, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch):
    """Make the app build its service with the fake models; returns the factory."""
    import streamlit as st

    monkeypatch.setitem(embedding.EMBEDDERS, "fake", FakeEmbedder)
    monkeypatch.setenv("RAG_EMBEDDER", "fake")
    monkeypatch.setenv("RAG_AUTH", "off")  # page tests: single-person mode (see test_app_auth)
    embedder = FakeEmbedder()

    def create_fake_service(settings: Settings) -> RagService:
        return RagService(settings, embedder=embedder, llm=fake_llm)

    monkeypatch.setattr(service_module, "create_service", create_fake_service)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield create_fake_service
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def unloaded_model(fake_service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's service gets the fake embedder but no model: where the model runs then
    comes from the real detection (llama.cpp's build and the GGUF header), as before the
    first question. (The app's warm-up may load the real model meanwhile: same answer.)"""
    embedder = FakeEmbedder()
    monkeypatch.setattr(service_module, "create_service",
                        lambda settings: RagService(settings, embedder=embedder))


def expected_hardware_text(threads: int, lang: str = "es") -> str:
    """What the app must show as "where the model runs" for the bundled model, worked out
    here from llama.cpp and the GGUF header, independently of rag.service."""
    import llama_cpp

    from rag import gguf

    if not llama_cpp.llama_supports_gpu_offload():
        return f"CPU, {threads} hilos" if lang == "es" else f"CPU, {threads} threads"
    meta = gguf.read_metadata(str(gguf.default_model_path()))
    layers = int(meta[f"{meta['general.architecture']}.block_count"]) + 1
    return (f"GPU: {layers}/{layers} capas en la GPU" if lang == "es"
            else f"GPU: {layers}/{layers} layers offloaded")


@pytest.fixture
def service(fake_service) -> RagService:
    """A service with fake models on this test's data dir (to fill the library)."""
    return fake_service(load_settings())


@pytest.fixture
def app(fake_service, monkeypatch: pytest.MonkeyPatch):
    """The app under ``AppTest``, with fake models; call ``.run()``."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    # AppTest starts every run in Streamlit's legacy pages/ mode, which a server leaves for
    # good on its first run (app.py's guard); start each run as that server would.
    original_init = PagesManager.__init__

    def init_after_first_run(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init_after_first_run)

    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` on a free port with an empty data dir; killed afterwards.
    Yields its URL and its log file (copied to ``test-artifacts/``: ``streamlit.log`` for
    test_browser.py, ``streamlit-<module>.log`` for the others). A module's
    ``SERVER_SETTINGS`` dict, if any, adds ``RAG_*`` settings."""
    require_chromium()
    module = request.module.__name__.rpartition(".")[2]
    log_name = "streamlit.log" if module == "test_browser" else f"streamlit-{module}.log"
    settings = getattr(request.module, "SERVER_SETTINGS", {})
    with streamlit_server(tmp_path_factory.mktemp("browser-data"), log_name,
                          **settings) as running:
        yield running
