"""Use cases: what the CLI and the app call. Heavy models load lazily, once per process."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag import answering, followups, gguf, markup, prompts, sandbox
from rag.answer_language import LanguageOutcome
from rag.budget import fit_prompt
from rag.chunking import Chunker, embedding_text
from rag.embedding import EMBEDDERS, Embedder, embedder_class, get_embedder
from rag.errors import FileTooLargeError, RagError
from rag.language import resolve_language
from rag.library import Library, library_root
from rag.llm import LLM, Hardware, LlamaCppLLM
from rag.loaders import SUPPORTED_EXTENSIONS, safe_file_name
from rag.passages import focus_sources
from rag.retrieval import hybrid_search
from rag.schema import Answer, DocumentInfo, IngestReport, ModelInfo, Source, Timings, Turn
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestProgress:
    file_name: str
    stage: str  # "parse" | "chunk" | "embed" | "index" | "done"
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[IngestProgress], None]


class AnswerStream:
    """Iterate for the answer's text as it is generated; afterwards ``answer`` holds it all.

    ``query``, ``sources`` and ``language`` are known before the first piece arrives."""

    def __init__(self, pieces: Iterable[str], query: str, sources: list[Source], language: str,
                 started: float, retrieve_ms: float, prompt_tokens: int = 0,
                 question: str = "", outcome: LanguageOutcome | None = None) -> None:
        self.query, self.sources, self.language = query, sources, language
        self._pieces, self._started = pieces, started
        self._retrieve_ms, self._prompt_tokens = retrieve_ms, prompt_tokens
        self._question, self._outcome = question, outcome
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        text, count, first = [], 0, None
        for piece in self._pieces:
            if first is None:
                first = time.perf_counter()
            count += 1
            text.append(piece)
            yield piece
        end = time.perf_counter()
        first = first or end
        timings = Timings(
            retrieve_ms=round(self._retrieve_ms, 1),
            first_token_ms=round((first - self._started) * 1000, 1),
            tokens_per_s=round((count - 1) / (end - first), 1) if count > 1 and end > first
            else 0.0,
            total_ms=round((end - self._started) * 1000, 1),
            prompt_tokens=self._prompt_tokens, completion_tokens=count)
        final = "".join(text).strip()
        assessment = answering.assess(
            final, self._question or self.query, self.sources, self.language,
            self._outcome.ok if self._outcome else True) if self.sources else None
        self.answer = Answer(text=final, query=self.query, sources=self.sources,
                             language=self.language, timings=timings, assessment=assessment)

    def result(self) -> Answer:
        """Consume what is left and return the finished answer."""
        if self.answer is None:
            for _ in self:
                pass
        assert self.answer is not None
        return self.answer


_shared_lock = threading.Lock()
_libraries: dict[tuple[str, str], Library] = {}
_llms: dict[tuple, LLM] = {}


def open_library(settings: Settings, adopt: bool = False) -> Library:
    """The process-wide :class:`Library` for the settings' data dir, library and embedder
    (known by name and dimension: opening a library loads no model)."""
    root = library_root(settings.data_dir, settings.library)
    embedder = embedder_class(settings.embedder)
    key = (str(root.resolve()), embedder.name)
    with _shared_lock:
        if key not in _libraries or adopt:
            _libraries[key] = Library(root, embedder.name, embedder.dim, adopt=adopt)
        return _libraries[key]


def _llm_key(settings: Settings, path: Path) -> tuple:
    return (str(path), settings.n_ctx, settings.threads, settings.n_gpu_layers,
            settings.repeat_penalty)


def load_llm(settings: Settings) -> LLM:
    """The process-wide model for these settings; loading another one frees the previous."""
    path = gguf.resolve_model(settings.model, settings.models_dir)
    key = _llm_key(settings, path)
    with _shared_lock:
        if key not in _llms:
            _llms.clear()
            _llms[key] = LlamaCppLLM(path, n_ctx=settings.n_ctx, n_threads=settings.threads,
                                     n_gpu_layers=settings.n_gpu_layers,
                                     repeat_penalty=settings.repeat_penalty)
        return _llms[key]


def expected_hardware(settings: Settings) -> Hardware:
    """Where :func:`load_llm` runs (or would run) the model for these settings: the loaded
    model's placement, else the one llama.cpp's build and the GGUF header imply (nothing is
    loaded). Raises :class:`~rag.errors.ModelNotFoundError` if the model file is missing."""
    path = gguf.resolve_model(settings.model, settings.models_dir)
    with _shared_lock:
        loaded = _llms.get(_llm_key(settings, path))
    if loaded is not None:
        return loaded.hardware
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


class RagService:
    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 llm: LLM | None = None) -> None:
        self.settings = settings
        self._embedder, self._llm = embedder, llm
        self._library: Library | None = None
        self.shared: RagService | None = None
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
    def library(self) -> Library:
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

    # ---- library -----------------------------------------------------------------------

    def list_documents(self) -> list[DocumentInfo]:
        return self.library.documents()

    def stats(self) -> tuple[int, int]:
        """(documents, chunks) in the library."""
        return self.library.stats()

    def delete_document(self, name: str) -> None:
        self.library.delete_document(name)

    def ingest_paths(self, paths: Iterable[str | Path],
                     progress: ProgressCallback | None = None) -> list[IngestReport]:
        """Ingest files and folders (recursively, supported types only)."""
        return [self.ingest_file(p, progress=progress) for p in expand_paths(paths)]

    def ingest_file(self, path: str | Path, display_name: str | None = None,
                    progress: ProgressCallback | None = None) -> IngestReport:
        path = Path(path)
        name = display_name or path.name
        try:
            size = path.stat().st_size
            self._check_size(name, size)
            data = path.read_bytes()
        except OSError as exc:
            return IngestReport(file_name=name, status="failed", error_code="unreadable",
                                error=f"{name} could not be read: {exc.strerror or exc}.")
        except RagError as exc:
            return _failed(name, exc)
        return self.ingest_bytes(name, data, progress=progress)

    def ingest_bytes(self, name: str, data: bytes, progress: ProgressCallback | None = None,
                     *, replace: bool = False) -> IngestReport:
        """Parse, chunk, embed and store one file. Failures become a report, never a raise.
        ``replace``: store it again even if the library holds it unchanged (re-indexing)."""
        started = time.perf_counter()
        notify = progress or (lambda _p: None)
        try:
            name = safe_file_name(name)
            self._check_size(name, len(data))
        except RagError as exc:
            return _failed(name, exc)
        # Content already stored is recognized by its hash, before any parsing.
        twin = self.library.name_with_content(hashlib.sha256(data).hexdigest())
        stored = next((d for d in self.library.documents() if d.name == twin), None) \
            if twin is not None and not (replace and twin == name) else None
        if stored is not None:  # (None too if the twin was deleted meanwhile)
            notify(IngestProgress(name, "done", 1, 1))
            return IngestReport(
                file_name=name, status="skipped", pages=stored.pages,
                characters=stored.characters, seconds=round(time.perf_counter() - started, 3),
                warnings=[f"same content as '{twin}', already in the library"
                          if twin != name else "unchanged, already in the library"])
        try:
            notify(IngestProgress(name, "parse"))
            document = sandbox.load_bytes(data, name, timeout_s=self.settings.parse_timeout_s,
                                          memory_mb=self.settings.parse_memory_mb)
        except RagError as exc:
            return _failed(name, exc)
        report = IngestReport(file_name=name, status="added", pages=document.pages,
                              characters=document.characters, warnings=list(document.warnings))
        notify(IngestProgress(name, "chunk"))
        chunks = self.chunker().split(document)
        vectors, report.embedded = self._embed(chunks, name, notify)
        notify(IngestProgress(name, "index", 0, 1))
        report.status, twin = self.library.add_document(document, chunks, vectors, data)
        if report.status == "skipped":
            report.warnings.append(f"same content as '{twin}', already in the library")
        report.chunks = len(chunks)
        report.seconds = round(time.perf_counter() - started, 3)
        notify(IngestProgress(name, "done", 1, 1))
        return report

    def _embed(self, chunks: list, name: str, notify: ProgressCallback):
        import numpy as np

        cached = self.library.cached_vectors([c.content_hash for c in chunks])
        missing = [c for c in chunks if c.content_hash not in cached]
        batch = 32
        for start in range(0, len(missing), batch):
            notify(IngestProgress(name, "embed", start, len(missing)))
            part = missing[start : start + batch]
            for chunk, vector in zip(part, self.embedder.embed([embedding_text(c) for c in part]),
                                     strict=True):
                cached[chunk.content_hash] = vector
        notify(IngestProgress(name, "embed", len(missing), len(missing)))
        vectors = (np.vstack([cached[c.content_hash] for c in chunks]) if chunks
                   else np.zeros((0, self.embedder.dim), dtype=np.float32))
        return vectors, len(missing)

    def _check_size(self, name: str, size: int) -> None:
        cap = self.settings.max_upload_mb * 1024 * 1024
        if size > cap:
            raise FileTooLargeError(
                f"{name} is {size / 2**20:.0f} MB; the limit is {self.settings.max_upload_mb} MB.",
                name=name, size_mb=round(size / 2**20), limit_mb=self.settings.max_upload_mb)

    def reindex(self, progress: ProgressCallback | None = None) -> list[IngestReport]:
        """Re-chunk and re-embed every document from its stored original (after a change of
        chunk size or embedder). Each document is replaced in one transaction, never deleted
        first: a crash part-way leaves every document there, and running it again finishes.
        (After a change of embedder the old vectors cannot be kept: documents not yet
        re-indexed have no chunks until then.)"""
        library = open_library(self.settings, adopt=True)
        self._library = library
        reports = []
        for name in sorted(d.name for d in library.documents()):
            try:
                data = library.original_path(name).read_bytes()
            except OSError as exc:
                reports.append(IngestReport(
                    file_name=name, status="failed", error_code="unreadable",
                    error=f"{name} could not be re-indexed: its original is unreadable ({exc})."))
                continue
            report = self.ingest_bytes(name, data, progress, replace=True)
            if report.status == "replaced":
                report.status = "added"  # re-added from its original
            reports.append(report)
        return reports

    # ---- questions ---------------------------------------------------------------------

    def search(self, query: str, k: int | None = None,
               documents: list[str] | None = None) -> list[Source]:
        if self.shared is not None:
            from rag.shared import search_both

            return search_both(self, self.shared, query, k or self.settings.top_k, documents)
        return hybrid_search(self.library, self.embedder, query, k or self.settings.top_k,
                             documents)

    def standalone_query(self, question: str, history: list[Turn], language: str) -> str:
        """A follow-up question rewritten to stand alone, for retrieval."""
        if not any(t.role == "user" for t in history):
            return question
        recent = history[-4:]
        rewritten = self.llm.chat(prompts.condense_messages(question, recent, language),
                                  max_tokens=64, temperature=0.0,
                                  stop=["\n", *markup.STOP_SEQUENCES])
        return followups.choose_query(markup.clean(rewritten), question, recent,
                                      self._similarity)

    def _similarity(self, first: str, second: str) -> float:
        vectors = self.embedder.embed([first, second])
        return float(vectors[0] @ vectors[1])

    def ask(self, question: str, history: list[Turn] | None = None, k: int | None = None,
            documents: list[str] | None = None, language: str | None = None,
            query: str | None = None) -> AnswerStream:
        """Answer ``question`` from the library. ``query`` overrides the search query."""
        started = time.perf_counter()
        history = list(history or [])
        language = resolve_language(language or self.settings.language, question)
        query = query or self.standalone_query(question, history, language)
        retrieve_start = time.perf_counter()
        sources = self.search(query, k, documents)
        retrieve_ms = (time.perf_counter() - retrieve_start) * 1000
        if not sources:
            return AnswerStream(iter([prompts.NOT_FOUND[language]]), query, [], language,
                                started, retrieve_ms)
        llm = self.llm
        sources = focus_sources(sources, query, self.settings.passage_tokens, llm.count_tokens)
        limit = llm.n_ctx - self.settings.max_tokens
        messages, sources, _ = fit_prompt(
            lambda s, h: prompts.answer_messages(question, s, h, language),
            sources, history, llm.count_message_tokens, limit)
        pieces, outcome = answering.generate(llm, messages, language, self.settings.max_tokens,
                                             self.settings.temperature)
        return AnswerStream(pieces, query, sources, language, started, retrieve_ms,
                            llm.count_message_tokens(messages), question, outcome)

    def summarize(self, name: str, language: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> AnswerStream:
        """Map-reduce summary: parts that fit the context are summarized (with progress),
        then the partial summaries are combined, streamed."""
        from rag.summaries import summarize_chunks

        started = time.perf_counter()
        chunks = self.library.chunks_of(name)
        language = resolve_language(language or self.settings.language,
                                    " ".join(c.text for c in chunks[:5]))
        pieces = markup.filter_stream(summarize_chunks(
            self.llm, name, [c.text for c in chunks], language, self.settings.max_tokens,
            progress))
        return AnswerStream(pieces, name, [], language, started, 0.0)

    # ---- models ------------------------------------------------------------------------

    def available_models(self) -> list[ModelInfo]:
        return gguf.available_models(self.settings.models_dir)

    @staticmethod
    def embedders() -> list[str]:
        return list(EMBEDDERS)


def create_service(settings: Settings) -> RagService:
    """How the app builds its service. Tests replace this function to inject fakes
    (``RagService(settings, embedder=..., llm=...)``)."""
    return RagService(settings)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() in SUPPORTED_EXTENSIONS
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            files.append(path)
    return files


def _failed(name: str, exc: RagError) -> IngestReport:
    log.info("ingest of %s failed: %s", name, exc)
    return IngestReport(file_name=name, status="failed", error=exc.message, error_code=exc.code)


