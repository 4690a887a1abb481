"""Ingest: files in, documents stored (parse in a sandbox, chunk, embed, store)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rag import sandbox
from rag.chunking import Chunker, embedding_text
from rag.embedding import Embedder
from rag.errors import FileTooLargeError, ParseTimeoutError, RagError
from rag.loaders import SUPPORTED_EXTENSIONS, ParseOptions, safe_file_name
from rag.loaders.names import numbered_name, typed_as
from rag.schema import IngestReport
from rag.settings import Settings
from rag.store import VectorStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestProgress:
    file_name: str
    stage: str  # "parse" | "ocr" (done/total pages) | "chunk" | "embed" | "index" | "done"
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[IngestProgress], None]


class Ingestion:
    """Ingest use cases; mixed into :class:`rag.service.RagService` (needs its
    ``settings``, ``library``, ``embedder`` and ``chunker``)."""

    settings: Settings
    library: VectorStore
    embedder: Embedder
    _library: VectorStore | None

    def chunker(self) -> Chunker: ...  # see rag.components.Components

    def ingest_paths(self, paths: Iterable[str | Path],
                     progress: ProgressCallback | None = None) -> list[IngestReport]:
        """Ingest files and folders (recursively, supported types only). Files that share
        a name (from different folders) are all kept, numbered (see :meth:`ingest_bytes`)."""
        batch: set[str] = set()
        return [self.ingest_file(p, progress=progress, batch=batch) for p in expand_paths(paths)]

    def ingest_file(self, path: str | Path, display_name: str | None = None,
                    progress: ProgressCallback | None = None,
                    batch: set[str] | None = None) -> IngestReport:
        path = Path(path)
        name = display_name or os.fsencode(path.name).decode("utf-8", errors="replace")
        try:
            size = path.stat().st_size
            self._check_size(name, size)
            data = path.read_bytes()
        except OSError as exc:
            return IngestReport(file_name=name, status="failed", error_code="unreadable",
                                error=f"{name} could not be read: {exc.strerror or exc}.")
        except RagError as exc:
            return _failed(name, exc)
        return self.ingest_bytes(name, data, progress=progress, batch=batch)

    def ingest_bytes(self, name: str, data: bytes, progress: ProgressCallback | None = None,
                     *, replace: bool = False, batch: set[str] | None = None) -> IngestReport:
        """Parse, chunk, embed and store one file. Failures become a report, never a raise.
        ``replace``: store it again even if the library holds it unchanged (re-indexing).

        A file replaces the document of the same name only when it was given exactly that
        name. It is stored under a numbered name (``informe (2).txt``, with a warning) when
        its name only matches after cleaning (NFC/NFD forms, invisible characters) or when
        another file of the same ``batch`` (the names stored so far by one upload or one
        ingest; updated here) already took the name."""
        started = time.perf_counter()
        notify = progress or (lambda _p: None)
        raw = name
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
        name, renamed = self._distinct_name(raw, name, batch)
        try:
            notify(IngestProgress(name, "parse"))
            options = ParseOptions(ocr=self.settings.ocr, progress=lambda stage, done, total:
                                   notify(IngestProgress(name, stage, done, total)))
            document = sandbox.load_bytes(data, name, timeout_s=self.settings.parse_timeout_s,
                                          memory_mb=self.settings.parse_memory_mb,
                                          options=options)
        except RagError as exc:
            return _failed(name, exc)
        report = IngestReport(file_name=name, status="added", pages=document.pages,
                              characters=document.characters,
                              warnings=renamed + list(document.warnings),
                              ocr_pages=document.ocr_pages,
                              ocr_confidence=document.ocr_confidence)
        notify(IngestProgress(name, "chunk"))
        deadline = time.monotonic() + self.settings.index_timeout_s
        chunks = self.chunker().split(document)
        try:
            vectors, report.embedded = self._embed(chunks, name, notify, deadline)
        except RagError as exc:
            return _failed(name, exc)
        notify(IngestProgress(name, "index", 0, 1))
        report.status, twin = self.library.add_document(document, chunks, vectors, data)
        if report.status == "replaced" and not replace:  # new content: old passages go
            self.forget_in_chats(name)
        if batch is not None and report.status != "skipped":
            batch.add(name)
        if report.status == "skipped":
            report.warnings.append(f"same content as '{twin}', already in the library")
        report.chunks = len(chunks)
        report.seconds = round(time.perf_counter() - started, 3)
        notify(IngestProgress(name, "done", 1, 1))
        return report

    def _distinct_name(self, raw: str, name: str,
                       batch: set[str] | None) -> tuple[str, list[str]]:
        """``name``, or a numbered one (with the warning saying so) where storing under
        ``name`` would replace a document the person did not name exactly."""
        if batch is not None and name in batch:
            why = f"another file in this batch is also named '{name}'"
        elif not typed_as(raw, name) and self.library.has_document(name):
            why = f"a different document named '{name}' is already in the library"
        else:
            return name, []
        new = numbered_name(name, {d.name for d in self.library.documents()} | (batch or set()))
        return new, [f"{why}: this one is stored as '{new}'"]

    def _embed(self, chunks: list, name: str, notify: ProgressCallback, deadline: float):
        """Vectors of ``chunks`` (cached ones reused, repeated ones embedded once) and how
        many were embedded; :class:`ParseTimeoutError` past ``deadline`` (monotonic)."""
        import numpy as np

        cached = self.library.cached_vectors([c.content_hash for c in chunks])
        missing = list({c.content_hash: c for c in chunks
                        if c.content_hash not in cached}.values())
        batch = 32
        for start in range(0, len(missing), batch):
            if time.monotonic() > deadline:
                limit = round(self.settings.index_timeout_s)
                raise ParseTimeoutError(
                    f"{name} took longer than {limit} s to index and was skipped.",
                    name=name, seconds=limit)
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
        from rag.components import open_library

        library = open_library(self.settings, adopt=True)
        self._library = library
        reports = []
        for name in sorted(d.name for d in library.documents()):
            try:
                data = library.read_original(name)
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



