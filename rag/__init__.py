"""The engine of the chat-with-your-documents app: load, chunk, embed, index, retrieve and
answer, offline. No Streamlit here; the UI talks to :mod:`rag.service`."""

from rag.errors import RagError
from rag.schema import (
    Answer,
    Chunk,
    DocumentInfo,
    IngestReport,
    LoadedDocument,
    ModelInfo,
    Section,
    Source,
    Timings,
    Turn,
)

__all__ = ["Answer", "Chunk", "DocumentInfo", "IngestReport", "LoadedDocument", "ModelInfo",
           "RagError", "Section", "Source", "Timings", "Turn"]
