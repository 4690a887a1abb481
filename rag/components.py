"""The engine's parts, chosen from the settings in one place: the vector store
(:mod:`rag.store`), the language model (:mod:`rag.llm`) and the embedder. Each is built
lazily, once per process, and shared by every session."""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from rag import gguf, prompts
from rag.chats import ChatStore
from rag.chunking import Chunker
from rag.embedding import Embedder, embedder_class, get_embedder
from rag.llm import LLM, Hardware, llm_backend
from rag.settings import Settings
from rag.store import LibraryKey, VectorStore, backend_class, backend_name

log = logging.getLogger(__name__)

_shared_lock = threading.Lock()
_libraries: dict[tuple, VectorStore] = {}
_llms: dict[tuple, LLM] = {}


def library_key(settings: Settings) -> LibraryKey:
    return LibraryKey(str(Path(settings.data_dir).resolve()), settings.library)


def open_library(settings: Settings, adopt: bool = False) -> VectorStore:
    """The process-wide library for the settings' store, data dir, library and embedder
    (known by name and dimension: opening a library loads no model)."""
    embedder = embedder_class(settings.embedder)
    backend = backend_name(settings.database_url)
    key = (backend, settings.database_url, library_key(settings), embedder.name)
    with _shared_lock:
        if key not in _libraries or adopt:
            _libraries[key] = backend_class(backend).open(
                library_key(settings), embedder.name, embedder.dim, settings, adopt=adopt)
        return _libraries[key]


def forget_data_dir(settings: Settings) -> int:
    """Delete every library of the settings' data dir (a deleted account's home) from the
    store: a database backend's rows (the embedded store's files go with the folder).
    Drops this process's cached libraries of that data dir; returns how many libraries
    the store deleted."""
    data_dir = library_key(settings).data_dir
    with _shared_lock:
        for key in [k for k in _libraries if k[2].data_dir == data_dir]:
            _libraries.pop(key).close()
    backend = backend_class(backend_name(settings.database_url))
    return backend.delete_namespace(settings, library_key(settings).namespace)


def _llm_key(settings: Settings, path: Path | None) -> tuple:
    return (str(path), settings.n_ctx, settings.threads, settings.n_gpu_layers,
            settings.repeat_penalty, settings.llm_url, settings.llm_model)


def _model_path(settings: Settings) -> Path | None:
    """The GGUF for an in-process model (``None`` for a model server)."""
    return None if settings.llm_url else gguf.resolve_model(settings.model, settings.models_dir)


def load_llm(settings: Settings) -> LLM:
    """The process-wide model for these settings; loading another one frees the previous."""
    key = _llm_key(settings, _model_path(settings))
    with _shared_lock:
        if key not in _llms:
            _llms.clear()
            _llms[key] = llm_backend(settings).from_settings(settings)
            _llms[key].prefill([prompts.system_message()])
        return _llms[key]


def expected_hardware(settings: Settings) -> Hardware:
    """Where :func:`load_llm` runs (or would run) the model for these settings: the loaded
    model's placement, else the one llama.cpp's build and the GGUF header imply (nothing is
    loaded), or the model server's address. Raises
    :class:`~rag.errors.ModelNotFoundError` if the model file is missing."""
    path = _model_path(settings)
    with _shared_lock:
        loaded = _llms.get(_llm_key(settings, path))
    if loaded is not None:
        return loaded.hardware
    if path is None:
        return llm_backend(settings).expected_hardware(settings)
    return _placement(str(path), path.stat().st_mtime_ns, settings.n_gpu_layers, settings.threads)


@functools.lru_cache(maxsize=8)
def _placement(path: str, _mtime_ns: int, n_gpu_layers: int, threads: int) -> Hardware:
    import llama_cpp

    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    meta = gguf.read_metadata(path)
    arch = meta.get("general.architecture", "llama")
    total = int(meta.get(f"{arch}.block_count", 0) or 0) + 1  # type: ignore[call-overload]
    offloaded = 0 if not gpu else (total if n_gpu_layers < 0 else min(n_gpu_layers, total))
    return Hardware(gpu=gpu, layers_offloaded=offloaded, layers_total=total, threads=threads)


class Components:
    """The service's lazily loaded parts (tests inject fakes through the constructor)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 llm: LLM | None = None) -> None:
        self.settings = settings
        self._embedder, self._llm = embedder, llm
        self._library: VectorStore | None = None
        self.shared: Components | None = None
        """The shared library's service, searched too when set (see :mod:`rag.shared`)."""

    # ---- lazily loaded parts -----------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings.embedder, self.settings.embedder_dtype,
                                          self.settings.threads)
        return self._embedder

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = load_llm(self.settings)
        return self._llm

    @property
    def library(self) -> VectorStore:
        if self._library is None:
            self._library = open_library(self.settings)
        return self._library

    def hardware(self) -> Hardware:
        """Where the model runs: the loaded (or injected) model's placement, else the
        expected one (see :func:`expected_hardware`; loads nothing)."""
        return self._llm.hardware if self._llm is not None else expected_hardware(self.settings)

    def chunker(self) -> Chunker:
        return Chunker(self.embedder.count_tokens, self.settings.chunk_tokens,
                       self.settings.chunk_overlap, self.embedder.max_tokens)


    def forget_in_chats(self, name: str) -> None:
        """Take a deleted or replaced document's passages out of this library's saved chats
        (a failure is logged: the document itself is gone either way)."""
        try:
            changed = ChatStore(self.settings.data_dir, self.settings.library) \
                .forget_document(name)
        except OSError:
            log.warning("could not take %s out of the saved chats", name, exc_info=True)
            return
        if changed:
            log.info("%s: passages taken out of %d saved chats", name, changed)
