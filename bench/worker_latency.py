"""The latency measurement of ``bench.worker``: project and baseline searches timed query
by query in one process (interleaved, so both see the same load), on the corpus and on
~10k synthetic chunks."""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import percentile


def _latencies(pairs: list[tuple[str, object]], queries: list[str], warmup: int = 3) -> dict:
    """Interleaved timing of several search functions over the same queries: query i runs
    on every pipeline before query i+1 (the order rotates), so all see the same load."""
    for fn in (f for _, f in pairs):
        for q in queries[:warmup]:
            fn(q)
    times: dict[str, list[float]] = {name: [] for name, _ in pairs}
    for i, q in enumerate(queries):
        order = pairs[i % len(pairs):] + pairs[:i % len(pairs)]
        for name, fn in order:
            start = time.perf_counter()
            fn(q)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: {"p50_ms": percentile(t, 50), "p95_ms": percentile(t, 95), "n": len(t)}
            for name, t in times.items()}


def _passage_vectors(embedder, passages: list[str], head_chars: int) -> tuple:
    """MiniLM vectors of each passage's first ``head_chars`` characters, cached on disk."""
    import hashlib

    import numpy as np

    key = hashlib.sha256(("\0".join(passages) + embedder.name + str(head_chars))
                         .encode("utf-8")).hexdigest()[:20]
    cache = Path.home() / ".cache" / "chatdocs" / "bench" / f"vectors-{key}.npy"
    if cache.is_file():
        return np.load(cache), 0.0
    start = time.perf_counter()
    vectors = embedder.embed([p[:head_chars] for p in passages], batch_size=64)
    seconds = time.perf_counter() - start
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors, seconds


def task_latency(cfg: dict) -> dict:
    from bench import baseline, project
    from bench.corpus import synthesize_passages
    from rag.loaders import load_file

    queries: list[str] = cfg["queries"]
    k = cfg.get("k", 4)
    hf = baseline.embeddings()
    overrides = cfg.get("overrides", {})
    service = project.make_service(cfg["project_data_dir"], **overrides)
    _ = service.embedder
    store = baseline.open_store(cfg["baseline_index_dir"], hf)
    # Where the project's time goes: its query embedding alone, and (diagnostic) the same
    # embedder on one thread.
    extra = [("project_embed_query", service.embedder.embed_query)]
    if cfg.get("one_thread", True) and service.settings.threads > 1:
        from rag.embedding import get_embedder

        one = get_embedder(service.settings.embedder, service.settings.embedder_dtype, 1)
        extra.append(("project_embed_query_1_thread", one.embed_query))
    out: dict[str, object] = {
        "corpus": _latencies([("project", lambda q: service.search(q, k)),
                              ("baseline", lambda q: store.similarity_search(q, k=k)),
                              *extra], queries),
        "corpus_chunks": {"project": service.stats()[1], "baseline": store.index.ntotal},
    }
    # ~10k chunks: real sentences of the corpus shuffled into new passages, one chunk each.
    texts = [load_file(p).text for p in cfg["source_files"]]
    passages = synthesize_passages(texts, cfg["synthetic_chunks"])
    # Stored vectors: each pipeline's model on the passage's first 200 characters (a query
    # costs the same whatever the stored vectors are; embedding 10k whole passages would
    # take many minutes on 2 cores). The baseline's MiniLM vectors come from the project's
    # (bfloat16) MiniLM for speed: the same model, the same space.
    from rag.embedding import get_embedder

    head = cfg.get("head_chars", 200)
    vectors, embed_s = _passage_vectors(service.embedder, passages, head)
    minilm = get_embedder("minilm", "auto", service.settings.threads)
    b_vectors, b_embed_s = _passage_vectors(minilm, passages, head)
    big = project.load_passages_library(cfg["synthetic_data_dir"], passages, vectors,
                                        overrides=overrides)
    big_store = baseline.store_from_passages(passages, b_vectors, hf)
    out["large"] = _latencies([("project", lambda q: big.search(q, k)),
                               ("baseline", lambda q: big_store.similarity_search(q, k=k))],
                              queries)
    out["large_chunks"] = {"project": big.stats()[1], "baseline": big_store.index.ntotal}
    out["synthetic_embed_s"] = embed_s + b_embed_s
    return out
