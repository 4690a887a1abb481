"""The project's side of each figure, through its public service (``rag.service``)."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

STAGES = ("parse", "chunk", "embed", "index")


def make_service(data_dir: str | Path, **overrides: object):
    from rag.service import RagService
    from rag.settings import load_settings

    return RagService(load_settings(str(data_dir), **overrides))


class StageClock:
    """Splits each ``ingest_file`` call into its stages from the service's own progress
    callbacks: parse (read + load) until "chunk", chunk until the first "embed" (includes
    the embedding-cache lookup), embed until "index", index (SQLite, FAISS, BM25, save)
    until "done"."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stage, self._since = "parse", 0.0

    def start(self) -> None:
        self._stage, self._since = "parse", time.perf_counter()

    def __call__(self, progress) -> None:
        stage = progress.stage
        if stage == self._stage or stage == "parse":
            return
        now = time.perf_counter()
        self.seconds[self._stage] += now - self._since
        self._stage, self._since = stage, now


def ingest(files: list[str], data_dir: str, reingest: bool = True,
           overrides: dict | None = None) -> dict[str, object]:
    """First ingest of ``files`` into an empty library, then (same process) the same files
    again, unchanged."""
    started = time.perf_counter()
    import rag.service  # noqa: F401 - import cost is part of setup

    service = make_service(data_dir, **(overrides or {}))
    imported = time.perf_counter()
    _ = service.embedder  # load the model now, so that it is not counted as "chunk"
    _ = service.library
    ready = time.perf_counter()

    clock = StageClock()
    reports = []
    first_start = time.perf_counter()
    for path in files:
        clock.start()
        reports.append(service.ingest_file(path, progress=clock))
    first = time.perf_counter() - first_start
    failed = [f"{r.file_name}: {r.error}" for r in reports if not r.ok]
    result: dict[str, object] = {
        "setup_s": ready - started, "import_s": imported - started,
        "model_load_s": ready - imported, "ingest_s": first,
        "stages_s": {s: clock.seconds.get(s, 0.0) for s in STAGES},
        "pages": sum(r.pages for r in reports), "chunks": sum(r.chunks for r in reports),
        "characters": sum(r.characters for r in reports), "files": len(reports),
        "failed": failed, "embedder": service.embedder.describe(),
    }
    if reingest:
        again_start = time.perf_counter()
        again = [service.ingest_file(path) for path in files]
        result["reingest_s"] = time.perf_counter() - again_start
        result["reingest_statuses"] = sorted({r.status for r in again})
    return result


def load_passages_library(data_dir: str, passages: list[str], vectors, per_document: int = 200,
                          overrides: dict | None = None):
    """A library holding exactly ``passages`` (one chunk each) with precomputed vectors,
    stored through the same ``Library.add_document`` call that ingest uses."""
    import hashlib

    from rag.chunking import text_hash
    from rag.schema import Chunk, LoadedDocument, Section

    service = make_service(data_dir, **(overrides or {}))
    library = service.library
    for start in range(0, len(passages), per_document):
        part = passages[start:start + per_document]
        name = f"synthetic-{start // per_document:04d}.txt"
        data = "\n\n".join(part).encode("utf-8")
        document = LoadedDocument(file_name=name, kind="txt", sections=[Section(t) for t in part],
                                  content_hash=hashlib.sha256(data).hexdigest(), pages=len(part))
        chunks = [Chunk(text=t, file_name=name, page=None, heading="",
                        content_hash=text_hash(f"\n{t}"), ordinal=i) for i, t in enumerate(part)]
        library.add_document(document, chunks, vectors[start:start + per_document], data)
    return service


class IngestSession:
    """One process's ingest, file by file, so that the orchestrator can interleave the
    project and the baseline file by file (both processes alive, one working at a time)."""

    def __init__(self, cfg: dict) -> None:
        started = time.perf_counter()
        import rag.service  # noqa: F401 - import cost is part of setup

        self.service = make_service(cfg["data_dir"], **cfg.get("overrides", {}))
        imported = time.perf_counter()
        _ = self.service.embedder  # load the model now, so that it is not counted as "chunk"
        _ = self.service.library
        ready = time.perf_counter()
        self.info = {"setup_s": ready - started, "import_s": imported - started,
                     "model_load_s": ready - imported,
                     "embedder": self.service.embedder.describe()}

    def ingest(self, path: str) -> dict:
        clock = StageClock()
        clock.start()
        start = time.perf_counter()
        report = self.service.ingest_file(path, progress=clock)
        return {"seconds": time.perf_counter() - start,
                "stages_s": {s: clock.seconds.get(s, 0.0) for s in STAGES},
                "pages": report.pages, "chunks": report.chunks, "characters": report.characters,
                "failed": [] if report.ok else [f"{report.file_name}: {report.error}"]}

    def finish(self) -> dict:
        return {"seconds": 0.0, "stages_s": {}}  # every file is stored as it is ingested

    def reingest(self, path: str) -> dict:
        start = time.perf_counter()
        report = self.service.ingest_file(path)
        return {"seconds": time.perf_counter() - start, "status": report.status}

    def finish_reingest(self) -> dict:
        return {"seconds": 0.0}
