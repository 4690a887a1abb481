"""The retrieval quality measurement of ``bench.worker``: recall@1 and recall@5 of the
project (per embedder) and the baseline on XQuAD questions, per language pair."""

from __future__ import annotations

import time


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
