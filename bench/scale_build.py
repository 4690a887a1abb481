"""The scale benchmark's library builds: through the store's own ``add_document``, 200
chunks a document, or (embedded, from 100k chunks) in bulk SQL transactions."""

from __future__ import annotations

import logging
import time

from bench.scale_library import (
    DIM,
    EMBEDDER,
    PER_DOCUMENT,
    document,
    document_vectors,
    open_store,
    source_texts,
)

BULK_FROM = 100_000

log = logging.getLogger("bench.scale")


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
