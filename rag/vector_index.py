"""A FAISS inner-product index keyed by chunk id, saved atomically to disk.

Vectors are L2-normalized, so inner product is cosine similarity. Small libraries use an
exact (flat) index; from ``ann_min`` vectors on, an IVF index (an approximate search that
scans the ``nprobe`` lists nearest the query). A search restricted to some documents is
always exact: it scans every list, scoring only the allowed ids.

The file is derived data: the library's SQLite database holds every vector too. It is
written as ``index-<seq>.faiss`` plus ``index.json`` naming it and the change-log sequence
it reflects (see :mod:`rag.library`), so that a crash between two writes never pairs a file
with the wrong label.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import faiss
import numpy as np

from rag.storage_io import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

ANN_MIN_VECTORS = 20_000
"""From this many vectors on, an IVF index (a flat scan of 20k 512-d vectors takes ~5 ms)."""
RETRAIN_GROWTH = 4  # an IVF index is retrained (more lists) once it holds 4x its training set
TRAIN_POINTS_PER_LIST = 40
KMEANS_ITERATIONS = 10
LABEL = "index.json"


def list_count(n: int) -> int:
    """IVF lists for ``n`` vectors: a power of two near ``2 * sqrt(n)``, 64 to 4096."""
    return int(min(4096, max(64, 2 ** round(math.log2(2 * math.sqrt(max(n, 1)))))))


def probe_count(lists: int) -> int:
    """Lists scanned per unfiltered query: 1/16 of them, at least 8."""
    return max(8, lists // 16)


class VectorIndex:
    def __init__(self, dim: int, index: faiss.Index | None = None, trained_on: int = 0) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.trained_on = trained_on  # vectors the IVF lists were trained on (0: flat)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def approximate(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray,
              ann_min: int = ANN_MIN_VECTORS) -> VectorIndex:
        """An index of these vectors: flat below ``ann_min``, else IVF trained on them."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        if len(vectors) < ann_min:
            index = cls(dim)
        else:
            lists = list_count(len(vectors))
            ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists,
                                     faiss.METRIC_INNER_PRODUCT)
            ivf.cp.niter = KMEANS_ITERATIONS
            sample = np.random.default_rng(0).permutation(len(vectors))[
                : lists * TRAIN_POINTS_PER_LIST]
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # a build may use every core
            ivf.train(vectors[np.sort(sample)])
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            ivf.nprobe = probe_count(lists)
            index = cls(dim, ivf, trained_on=len(vectors))
        index.add(ids, vectors)
        return index

    def needs_rebuild(self, ann_min: int = ANN_MIN_VECTORS) -> bool:
        """Flat but big enough for IVF, IVF grown well past its training, or IVF shrunk."""
        if not self.approximate:
            return len(self) >= ann_min
        return len(self) >= RETRAIN_GROWTH * self.trained_on or len(self) < ann_min // 2

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            array = np.asarray(ids, dtype=np.int64)
            selector = (faiss.IDSelectorArray(array) if self.approximate
                        else faiss.IDSelectorBatch(array))
            self._index.remove_ids(selector)

    def ids(self) -> set[int]:
        """Every chunk id held (for consistency checks)."""
        if self.approximate:
            invlists = self._index.invlists
            found: set[int] = set()
            for lst in range(self._index.nlist):
                size = invlists.list_size(lst)
                if size:
                    found.update(faiss.rev_swig_ptr(invlists.get_ids(lst), size).tolist())
            return found
        return set(faiss.vector_to_array(self._index.id_map).tolist()) if len(self) else set()

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
        """The ``k`` nearest chunk ids with their cosine similarity, best first. Runs on one
        thread: for a single query FAISS is several times slower on two here."""
        if not len(self) or k <= 0 or (allowed is not None and not allowed):
            return []
        faiss.omp_set_num_threads(1)  # per calling thread (OpenMP keeps it per thread)
        selector = (None if allowed is None
                    else faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64)))
        if self.approximate:
            params = faiss.SearchParametersIVF(
                sel=selector, nprobe=self._index.nlist if selector else self._index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector) if selector else None
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32),
                                         min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    # ---- files -------------------------------------------------------------------------

    def save(self, folder: Path, seq: int) -> None:
        """Write ``index-<seq>.faiss``, then the label naming it, then drop older files."""
        name = f"index-{seq}.faiss"
        atomic_write(folder / name, lambda tmp: faiss.write_index(self._index, tmp))
        atomic_write_text(folder / LABEL, json.dumps({
            "seq": seq, "file": name, "count": len(self), "dim": self.dim,
            "trained_on": self.trained_on}))
        for old in [*folder.glob("index-*.faiss"), folder / "index.faiss"]:
            if old.name != name:
                old.unlink(missing_ok=True)

    @staticmethod
    def saved_seq(folder: Path) -> int:
        """The change-log sequence of the saved index (-1: none)."""
        try:
            return int(json.loads((folder / LABEL).read_text(encoding="utf-8"))["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return -1

    @classmethod
    def load(cls, folder: Path, dim: int) -> tuple[VectorIndex, int] | None:
        """The saved index and its sequence, or ``None`` when missing, damaged or foreign."""
        try:
            info = json.loads((folder / LABEL).read_text(encoding="utf-8"))
            if info.get("dim") != dim or not str(info.get("file", "")).startswith("index-"):
                return None
            loaded = faiss.read_index(str(folder / Path(info["file"]).name))
            seq = int(info["seq"])
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
            log.info("vector index in %s not usable (%s): rebuilding", folder, exc)
            return None
        if loaded.d != dim or loaded.ntotal != info.get("count"):
            return None
        if isinstance(loaded, faiss.IndexIVF):
            loaded.nprobe = probe_count(loaded.nlist)
        elif not isinstance(loaded, faiss.IndexIDMap2):
            return None
        return cls(dim, loaded, trained_on=int(info.get("trained_on", 0))), seq
