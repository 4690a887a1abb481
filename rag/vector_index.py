"""A FAISS inner-product index keyed by chunk id, saved atomically to disk.

Vectors are L2-normalized, so inner product is cosine similarity. The file is derived
data: the library's SQLite database holds every vector too, and the index is rebuilt
from it whenever the file is missing, damaged or stale (its generation differs).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import faiss
import numpy as np

from rag.storage_io import atomic_write, atomic_write_text

log = logging.getLogger(__name__)


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def vectors(self, ids: list[int]) -> np.ndarray:
        """One row per id; zeros for an id no longer here (its chunk was deleted by another
        thread since a search returned it: the caller finds no chunk row and skips it)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for row, i in enumerate(ids):
            try:
                out[row] = self._index.reconstruct(int(i))
            except RuntimeError:  # faiss: "key not found"
                continue
        return out

    def search(self, query: np.ndarray, k: int,
               allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest chunk ids with their cosine similarity, best first."""
        if not len(self) or k <= 0:
            return []
        params = None
        if allowed is not None:
            if not allowed:
                return []
            selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32),
                                         min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def save(self, path: Path, generation: int) -> None:
        atomic_write(path, lambda tmp: faiss.write_index(self._index, tmp))
        atomic_write_text(path.with_suffix(".json"),
                          json.dumps({"generation": generation, "count": len(self),
                                      "dim": self.dim}))

    @classmethod
    def load(cls, path: Path, dim: int, generation: int) -> VectorIndex | None:
        """The saved index, or ``None`` when it is missing, damaged or not ``generation``."""
        try:
            info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if info.get("generation") != generation or info.get("dim") != dim:
                return None
            loaded = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError) as exc:
            log.info("vector index %s not usable (%s): rebuilding", path, exc)
            return None
        if loaded.d != dim or loaded.ntotal != info.get("count"):
            return None
        if not isinstance(loaded, faiss.IndexIDMap2):
            return None
        index = cls(dim)
        index._index = loaded
        return index
