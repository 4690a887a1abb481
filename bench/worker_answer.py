"""The answer measurement of ``bench.worker``: time to first token and tokens per second
of the project, the LangChain baseline and raw llama.cpp on the same prompts, question by
question."""

from __future__ import annotations

import time
from pathlib import Path


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
