"""Use cases: what the CLI and the app call. Heavy models load lazily, once per process.

:class:`RagService` puts together the components (:mod:`rag.components`), ingest
(:mod:`rag.ingest`) and question answering (:mod:`rag.answering`)."""

from __future__ import annotations

import logging

from rag import gguf
from rag.answering import Answering, AnswerStream
from rag.components import Components, expected_hardware, load_llm, open_library
from rag.ingest import Ingestion, IngestProgress, ProgressCallback, expand_paths
from rag.schema import DocumentInfo, ModelInfo
from rag.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["AnswerStream", "IngestProgress", "ProgressCallback", "RagService", "create_service",
           "expand_paths", "expected_hardware", "load_llm", "open_library"]


class RagService(Components, Ingestion, Answering):
    """Everything the CLI and the pages do, for one data dir and library."""

    # ---- library -----------------------------------------------------------------------

    def list_documents(self) -> list[DocumentInfo]:
        return self.library.documents()

    def stats(self) -> tuple[int, int]:
        """(documents, chunks) in the library."""
        return self.library.stats()

    def delete_document(self, name: str) -> None:
        """Delete the document, its chunks, vectors and original, and its passages quoted
        in saved chats."""
        self.library.delete_document(name)
        self.forget_in_chats(name)

    # ---- models ------------------------------------------------------------------------

    def available_models(self) -> list[ModelInfo]:
        return gguf.available_models(self.settings.models_dir)


def create_service(settings: Settings) -> RagService:
    """How the app builds its service. Tests replace this function to inject fakes
    (``RagService(settings, embedder=..., llm=...)``)."""
    return RagService(settings)

