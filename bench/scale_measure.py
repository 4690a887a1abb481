"""The scale benchmark's measurements of a built library, in a fresh process: open time and
memory, hybrid search latency, add, first search after an add (this process and another
connection), delete, and dense recall@10 against an exact scan."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np

from bench.common import median, percentile
from bench.scale_library import DIM, document, document_vectors, open_store, source_texts

QUERIES = 200
RECALL_QUERIES = 100
ADDS = 12


class QueryEmbedder:
    """Stands in for the embedder: returns the prepared vector of each query text."""

    multilingual = True

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self._vectors = vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _queries(store, n: int, count: int, seed: int) -> list[tuple[str, np.ndarray, int]]:
    """(text, vector, source chunk id) of queries made from random stored chunks."""
    from rag.keywords import tokenize

    rng = np.random.default_rng(seed)
    out = []
    low, high = _id_range(store)
    ids = [int(i) for i in rng.integers(low, high + 1, count * 3)]
    rows = store.chunk_rows(ids)
    vectors = store.vectors([i for i in ids if i in rows])
    by_id = dict(zip([i for i in ids if i in rows], vectors, strict=True))
    for chunk_id in ids:
        if chunk_id not in rows or len(out) == count:
            continue
        words = tokenize(rows[chunk_id][3])
        picked = [words[int(i)] for i in rng.integers(0, len(words), 6)] if words else ["x"]
        noisy = by_id[chunk_id] + 0.02 * rng.standard_normal(DIM).astype(np.float32)
        out.append((" ".join(picked) + f" #{len(out)}", noisy / np.linalg.norm(noisy), chunk_id))
    return out


def task_measure(backend: str, location: str, n: int) -> dict:
    import rag.retrieval  # noqa: F401 - imports are not part of "open"
    from rag.retrieval import hybrid_search

    started = time.perf_counter()
    store = open_store(backend, location)
    open_s = time.perf_counter() - started
    queries = _queries(store, n, QUERIES + ADDS * 2 + 1, seed=1)
    embedder = QueryEmbedder({q: v for q, v, _ in queries})

    def search(text: str) -> float:
        start = time.perf_counter()
        hybrid_search(store, embedder, text, k=4)
        return (time.perf_counter() - start) * 1000

    first_ms = search(queries[0][0])
    memory = rss_mb()
    latencies = [search(q) for q, _, _ in queries[1:QUERIES + 1]]
    texts = source_texts()
    adds, after_add, other = [], [], []
    reader = open_store(backend, location)
    rest = queries[QUERIES + 1:]
    for i in range(ADDS):
        loaded, chunks, data = document(10_000_000 + i, texts, count=10, tag="added")
        vectors = document_vectors(10_000_000 + i, 10)
        start = time.perf_counter()
        store.add_document(loaded, chunks, vectors, data)
        adds.append((time.perf_counter() - start) * 1000)
        after_add.append(search(rest[2 * i][0]))
        start = time.perf_counter()
        hybrid_search(reader, QueryEmbedder({rest[2 * i + 1][0]: rest[2 * i + 1][1]}),
                      rest[2 * i + 1][0], k=4)
        other.append((time.perf_counter() - start) * 1000)
    deletes = []
    for i in range(ADDS):
        start = time.perf_counter()
        store.delete_document(f"added-{10_000_000 + i:06d}.txt")
        deletes.append((time.perf_counter() - start) * 1000)
    return {
        "open_s": open_s, "first_search_ms": first_ms, "memory_mb": memory,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "search_p50_ms": median(latencies), "search_p95_ms": percentile(latencies, 95),
        "add_ms": median(adds), "first_search_after_add_ms": median(after_add),
        "other_process_search_ms": median(other), "delete_ms": median(deletes),
        "recall_at_10": _recall(store, queries[:RECALL_QUERIES]),
    }


def _id_range(store) -> tuple[int, int]:
    if hasattr(store, "_db"):
        return store._db.execute("SELECT MIN(id), MAX(id) FROM chunks").fetchone()
    return store._one("SELECT MIN(id), MAX(id) FROM rag_chunks WHERE library_id = %s",
                      (store._id,))


def _recall(store, queries: list[tuple[str, np.ndarray, int]], k: int = 10) -> float:
    """Dense top-k against an exact scan of every stored vector (streamed in batches)."""
    matrix = np.vstack([v for _, v, _ in queries])
    best = [np.empty(0, np.int64)] * len(queries)
    best_scores = [np.empty(0, np.float32)] * len(queries)
    for ids, vectors in _all_vectors(store):
        scores = vectors @ matrix.T
        for q in range(len(queries)):
            merged_ids = np.concatenate([best[q], ids])
            merged = np.concatenate([best_scores[q], scores[:, q]])
            top = np.argsort(-merged)[:k]
            best[q], best_scores[q] = merged_ids[top], merged[top]
    hits = sum(len({i for i, _ in store.dense_search(v, k)} & set(best[q].tolist()))
               for q, (_, v, _) in enumerate(queries))
    return hits / (k * len(queries))


def _all_vectors(store, batch: int = 50_000):
    if hasattr(store, "_db"):  # embedded: the SQLite copy of every vector
        rows = store._db.execute("SELECT c.id, e.vector FROM chunks c JOIN embeddings e "
                                 "ON e.content_hash = c.content_hash")
        while chunk := rows.fetchmany(batch):
            yield (np.array([r[0] for r in chunk]),
                   np.frombuffer(b"".join(r[1] for r in chunk), np.float32).reshape(-1, DIM))
        return
    last = 0
    while True:
        chunk = store._all("SELECT id, embedding FROM rag_chunks WHERE library_id = %s AND "
                           "id > %s ORDER BY id LIMIT %s", (store._id, last, batch))
        if not chunk:
            return
        last = chunk[-1][0]
        yield (np.array([r[0] for r in chunk]),
               np.vstack([r[1].to_numpy() for r in chunk]).astype(np.float32))
