"""The scale benchmark's synthetic library: real sentences (XQuAD, or the app's sample
documents) shuffled into 550-800 character passages, with 512-d unit vectors clustered
around 2,000 random centres, and the store (embedded or PostgreSQL) they go into."""

from __future__ import annotations

import functools
import tempfile

import numpy as np

from bench.common import ROOT

DIM = 512
PER_DOCUMENT = 200
CENTRES = 2000
NOISE = 0.6  # per-dimension noise against a centre of norm ~sqrt(DIM): neighbours stay near
EMBEDDER = "bench-synthetic"


@functools.cache
def _centres() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((CENTRES, DIM)).astype(np.float32)


def document_vectors(doc: int, count: int = PER_DOCUMENT) -> np.ndarray:
    rng = np.random.default_rng(1000 + doc)
    centres = _centres()
    vectors = centres[rng.integers(0, CENTRES, count)] + NOISE * rng.standard_normal(
        (count, DIM)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def source_texts() -> list[str]:
    """Sentences of the XQuAD articles (Spanish and English), split once; the app's
    sample documents where XQuAD is not at hand (a fresh clone)."""
    import re

    from bench.corpus import _load_xquad

    try:
        texts = [p["context"] for lang in ("es", "en") for article in _load_xquad(lang)
                 for p in article["paragraphs"]]
    except FileNotFoundError:
        texts = [p.read_text(encoding="utf-8")
                 for p in sorted((ROOT / "rag" / "sample_docs").glob("*.md"))]
    split = (re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text)) for text in texts)
    return [s.strip() for parts in split for s in parts if 30 <= len(s.strip()) <= 400]


def passages(sentences: list[str], count: int, seed: int) -> list[str]:
    """``count`` passages of 550-800 characters of real sentences (as
    ``bench.corpus.synthesize_passages``, from sentences split once)."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts: list[str] = []
        target, length = rng.randint(550, 800), 0
        while length < target:
            parts.append(rng.choice(sentences))
            length += len(parts[-1]) + 1
        out.append(" ".join(parts)[:800])
    return out


def document(doc: int, sentences: list[str], count: int = PER_DOCUMENT, tag: str = "synthetic"):
    import hashlib

    from rag.chunking import text_hash
    from rag.schema import Chunk, LoadedDocument, Section

    texts = passages(sentences, count, seed=doc)
    name = f"{tag}-{doc:06d}.txt"
    data = "\n\n".join(texts).encode("utf-8")
    loaded = LoadedDocument(file_name=name, kind="txt", sections=[Section(t) for t in texts],
                            content_hash=hashlib.sha256(data).hexdigest(), pages=len(texts))
    chunks = [Chunk(text=t, file_name=name, page=None, heading="",
                    content_hash=text_hash(f"{tag}{doc}\n{i}\n{t}"), ordinal=i)
              for i, t in enumerate(texts)]
    return loaded, chunks, data


def open_store(backend: str, location: str):
    from rag.settings import Settings
    from rag.store import LibraryKey, backend_class

    settings = Settings(data_dir=location if backend == "embedded" else tempfile.gettempdir(),
                        database_url=location if backend == "postgres" else "")
    key = LibraryKey(settings.data_dir, "scale")
    return backend_class(backend).open(key, EMBEDDER, DIM, settings)
