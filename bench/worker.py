"""One measurement in a fresh process: ``python -m bench.worker TASK CONFIG.json RESULT.json``.

The orchestrator (``bench.run``) starts one per measurement so that each pipeline's peak
memory is its own process's ``ru_maxrss`` and no model or cache leaks between runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

from bench.common import PROTOCOL_PREFIX, percentile


# ------------------------------------------------------------------------------- ingest
def task_ingest_project(cfg: dict) -> dict:
    from bench import project

    return project.ingest(cfg["files"], cfg["data_dir"], cfg.get("reingest", True),
                          cfg.get("overrides"))


def task_ingest_baseline(cfg: dict) -> dict:
    from bench import baseline

    return baseline.ingest(cfg["files"], cfg["index_dir"], cfg.get("reingest", True))


# ------------------------------------------------------------------------------ latency
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


# ------------------------------------------------------------------------------- answer
def _consume(pieces, started: float) -> dict:
    first, count = None, 0
    for piece in pieces:
        if not piece:
            continue
        if first is None:
            first = time.perf_counter()
        count += 1
    end = time.perf_counter()
    first = first or end
    return {"ttft_s": first - started, "tokens": count,
            "tokens_per_s": (count - 1) / (end - first) if count > 1 and end > first else None,
            "total_s": end - started}


def task_answer(cfg: dict) -> dict:
    import llama_cpp

    from bench import baseline, project
    from rag import prompts

    service = project.make_service(cfg["project_data_dir"], **cfg.get("overrides", {}))
    settings = service.settings
    max_tokens, temperature = settings.max_tokens, settings.temperature
    repeat_penalty = getattr(settings, "repeat_penalty", 1.1)
    threads = settings.threads
    store = baseline.open_store(cfg["baseline_index_dir"])
    lc_llm = baseline.llm(threads, max_tokens, temperature, n_ctx=settings.n_ctx,
                          repeat_penalty=repeat_penalty)
    def raw_llama(n_threads: int):
        return llama_cpp.Llama(model_path=baseline.gguf_path(), n_ctx=settings.n_ctx,
                               n_threads=n_threads, n_threads_batch=n_threads, n_gpu_layers=0,
                               verbose=False)

    raw = raw_llama(threads)
    # Diagnostic: the same generation on one thread (on a small, shared machine, llama.cpp's
    # threads wait for each other at every operation when another process takes a core).
    raw_one = raw_llama(1) if threads > 1 and cfg.get("one_thread", True) else None
    k = settings.top_k

    def run_project(question: str) -> dict:
        started = time.perf_counter()
        stream = service.ask(question)
        timing = _consume(stream, started)
        answer = stream.result()
        timing.update(retrieve_s=answer.timings.retrieve_ms / 1000, sources=len(answer.sources),
                      prompt_tokens=answer.timings.prompt_tokens,
                      messages=prompts.answer_messages(question, answer.sources, [],
                                                       answer.language))
        return timing

    def run_baseline(question: str) -> dict:
        started = time.perf_counter()
        documents = store.similarity_search(question, k=k)
        retrieved = time.perf_counter()
        timing = _consume(lc_llm.stream(baseline.prompt(question, documents)), started)
        timing.update(retrieve_s=retrieved - started, sources=len(documents))
        return timing

    def run_raw(messages: list[dict], llama=raw) -> dict:
        started = time.perf_counter()
        parts = llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                           temperature=temperature,
                                           repeat_penalty=repeat_penalty, stream=True)
        return _consume((p["choices"][0]["delta"].get("content") for p in parts), started)

    questions: list[str] = cfg["questions"]
    load_start = time.perf_counter()
    warm = run_project(questions[0])  # loads the embedder and the model
    run_raw(warm["messages"])
    if raw_one is not None:
        run_raw(warm["messages"], raw_one)
    run_baseline(questions[0])
    warmup_s = time.perf_counter() - load_start
    rows: dict[str, list[dict]] = {"project": [], "baseline": [], "raw": [], "raw_1_thread": []}
    for i, question in enumerate(questions[1:]):
        # Project first (its messages feed the raw runs); the baseline before or after.
        if i % 2:
            rows["baseline"].append(run_baseline(question))
        rows["project"].append(run_project(question))
        messages = rows["project"][-1].pop("messages")
        rows["raw"].append(run_raw(messages))
        if raw_one is not None:
            rows["raw_1_thread"].append(run_raw(messages, raw_one))
        if not i % 2:
            rows["baseline"].append(run_baseline(question))
    for row in rows["project"]:
        row.pop("messages", None)
    return {"rows": rows, "warmup_s": warmup_s, "threads": threads, "max_tokens": max_tokens,
            "temperature": temperature, "repeat_penalty": repeat_penalty, "k": k,
            "model": Path(baseline.gguf_path()).name}


# ------------------------------------------------------------------------------ quality
def _contains(texts: list[str], answers: list[str]) -> bool:
    lowered = [t.lower() for t in texts]
    return any(a.lower() in t for a in answers for t in lowered)


def _recall(search, questions: list[dict]) -> dict:
    at1 = at5 = 0
    start = time.perf_counter()
    for q in questions:
        texts = search(q["text"])
        at1 += _contains(texts[:1], q["answers"])
        at5 += _contains(texts[:5], q["answers"])
    n = max(len(questions), 1)
    return {"recall@1": at1 / n, "recall@5": at5 / n, "questions": len(questions),
            "seconds": time.perf_counter() - start}


def task_quality_project(cfg: dict) -> dict:
    from bench import project

    out: dict[str, object] = {}
    for embedder in cfg["embedders"]:
        services = {}
        chunks = {}
        for lang, files in cfg["documents"].items():
            service = project.make_service(cfg["data_dir"], **{
                **cfg.get("overrides", {}), "library": f"xquad-{lang}-{embedder}",
                "embedder": embedder})
            reports = service.ingest_paths(files)
            failed = [r.error for r in reports if not r.ok]
            if failed:
                raise RuntimeError(f"ingest failed: {failed[:3]}")
            services[lang], chunks[lang] = service, service.stats()[1]

        def search(service):
            return lambda q: [s.text for s in service.search(q, k=5)]

        out[embedder] = {
            "chunks": chunks,
            **{pair: _recall(search(services[docs]), cfg["questions"][pair])
               for pair, docs in cfg["pairs"].items()},
        }
    return out


def task_quality_baseline(cfg: dict) -> dict:
    from bench import baseline

    hf = baseline.embeddings()
    stores, chunks = {}, {}
    for lang, files in cfg["documents"].items():
        stores[lang], _, _, chunks[lang], _ = baseline.build(files, hf, None)

    def search(store):
        return lambda q: [d.page_content for d in store.similarity_search(q, k=5)]

    return {"minilm": {"chunks": chunks,
                       **{pair: _recall(search(stores[docs]), cfg["questions"][pair])
                          for pair, docs in cfg["pairs"].items()}}}


TASKS = {
    "ingest-project": task_ingest_project, "ingest-baseline": task_ingest_baseline,
    "latency": task_latency, "answer": task_answer,
    "quality-project": task_quality_project, "quality-baseline": task_quality_baseline,
}


def serve_ingest(side: str, cfg: dict) -> None:
    """Answer ingest commands, one JSON line each, from the orchestrator (``IngestClient``):
    ``{"op": "ingest" | "finish" | "reingest" | "finish_reingest" | "quit", "args": [...]}``.
    Anything the libraries print goes to the log, not into the protocol."""
    from bench import baseline, project

    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def emit(message: dict) -> None:
        protocol.write(PROTOCOL_PREFIX + json.dumps(message, default=float) + "\n")
        protocol.flush()

    session = (project.IngestSession if side == "project" else baseline.IngestSession)(cfg)
    emit({"ready": True, **session.info})
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        emit(getattr(session, command["op"])(*command.get("args", [])))


def main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    if argv[0].startswith("serve-ingest-"):
        cfg = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        serve_ingest(argv[0].removeprefix("serve-ingest-"), cfg)
        return 0
    task, config_path, result_path = argv
    cfg = json.loads(Path(config_path).read_text(encoding="utf-8"))
    result = TASKS[task](cfg)
    Path(result_path).write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
