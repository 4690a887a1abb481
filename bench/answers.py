"""Answer benchmark: time to first token, answer containment and grounding, project vs
the LangChain tutorial pipeline with the same model.

```bash
.venv/bin/python -m bench.answers                 # 12 es + 12 en XQuAD questions
.venv/bin/python -m bench.answers --questions 4   # smoke
.venv/bin/python -m bench.answers --model models/Qwen2.5-1.5B-Instruct-Q4_K_M.gguf
```

Corpus: the first ``--articles`` XQuAD articles per language (``bench.corpus.xquad_dir``),
one ``.txt`` each; questions spread over them. Both pipelines get the same documents,
questions and GGUF (threads, context, max tokens, temperature as the project's settings).

- first token: from the question to the first piece of answer text the person sees
  (retrieval and prompt evaluation included), median, after one warm-up question;
- containment: share of answers that contain a gold answer (case- and accent-folded);
- grounding: mean share of answer sentences supported by the passages the pipeline gave
  its model (``rag.grounding.check``), and the share of answers counted as grounded;
- markup: share of answers in which prompt markup appears (``rag.markup.find_marker``).

Writes ``bench/results/answers.json`` and ``answers.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, load_average, machine_meta
from bench.corpus import xquad_dir

log = logging.getLogger("bench.answers")


def load_xquad(lang: str, articles: int, questions: int) -> tuple[dict[str, str], list[dict]]:
    data = json.loads((xquad_dir() / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    docs, pools = {}, []
    for number, article in enumerate(data[:articles]):
        name = f"{lang}-{number:02d}-{article['title'][:40]}.txt".replace("/", "-")
        docs[name] = "\n\n".join(p["context"] for p in article["paragraphs"])
        pools.append([{"text": qa["question"], "answers": [a["text"] for a in qa["answers"]],
                       "lang": lang}
                      for p in article["paragraphs"] for qa in p["qas"]])
    picked: list[dict] = []
    step = 0
    while len(picked) < questions and any(step < len(pool) for pool in pools):
        for pool in pools:  # round-robin over articles, spread through each
            index = step * 7
            if index < len(pool) and len(picked) < questions:
                picked.append(pool[index])
        step += 1
    return docs, picked


def contains(answer: str, golds: list[str]) -> bool:
    from rag.grounding import fold

    text = fold(answer)
    return any(fold(g).strip() and fold(g).strip() in text for g in golds)


def measure(pieces, started: float) -> tuple[str, float]:
    text, first = [], None
    for piece in pieces:
        if piece and first is None:
            first = time.perf_counter()
        text.append(piece)
    end = time.perf_counter()
    return "".join(text).strip(), (first or end) - started


def score(question: dict, text: str, ttft: float, passages: list[str]) -> dict:
    from rag import grounding, markup
    from rag.prompts import NOT_FOUND
    from rag.schema import Source

    sources = [Source("p", None, "", p, 0.0, i + 1) for i, p in enumerate(passages)]
    checked = grounding.check(text, sources, NOT_FOUND.get(question["lang"], ""))
    return {"question": question["text"], "lang": question["lang"], "answer": text,
            "ttft_s": round(ttft, 3), "contains": contains(text, question["answers"]),
            "supported": checked.supported, "grounded": checked.grounded,
            "markup": markup.find_marker(text) >= 0}


def run_project(docs: dict[str, str], questions: list[dict], work: Path,
                overrides: dict) -> list[dict]:
    from rag.service import RagService
    from rag.settings import load_settings

    service = RagService(load_settings(work / "project", **overrides))
    for name, text in docs.items():
        service.ingest_bytes(name, text.encode("utf-8"))
    rows = []
    for i, question in enumerate(questions):
        started = time.perf_counter()
        stream = service.ask(question["text"])
        text, ttft = measure(stream, started)
        answer = stream.result()
        if i:  # the first question loads the models
            rows.append(score(question, text, ttft, [s.text for s in answer.sources]))
    return rows


def run_baseline(docs: dict[str, str], questions: list[dict], work: Path,
                 settings) -> list[dict]:
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    from bench import baseline

    folder = work / "baseline"
    folder.mkdir(parents=True, exist_ok=True)
    chunks = baseline.splitter().split_documents(
        [Document(page_content=text, metadata={"source": name}) for name, text in docs.items()])
    store = FAISS.from_documents(chunks, baseline.embeddings())
    llm = baseline.llm(settings.threads, settings.max_tokens, settings.temperature,
                       n_ctx=settings.n_ctx, repeat_penalty=settings.repeat_penalty)
    if settings.model:
        llm = type(llm)(model_path=settings.model, n_ctx=settings.n_ctx,
                        n_threads=settings.threads, max_tokens=settings.max_tokens,
                        temperature=settings.temperature, repeat_penalty=settings.repeat_penalty,
                        verbose=False, streaming=True)
    rows = []
    for i, question in enumerate(questions):
        started = time.perf_counter()
        documents = store.similarity_search(question["text"], k=settings.top_k)
        text, ttft = measure(llm.stream(baseline.prompt(question["text"], documents)), started)
        if i:
            rows.append(score(question, text, ttft, [d.page_content for d in documents]))
    return rows


def summarize(rows: list[dict]) -> dict:
    if not rows:
        return {}

    def share(key: str, lang: str | None = None) -> float:
        chosen = [r for r in rows if lang in (None, r["lang"])]
        return round(sum(bool(r[key]) for r in chosen) / len(chosen), 3) if chosen else 0.0

    return {"questions": len(rows),
            "ttft_p50_s": round(statistics.median(r["ttft_s"] for r in rows), 3),
            "contains_es": share("contains", "es"), "contains_en": share("contains", "en"),
            "supported_mean": round(statistics.mean(r["supported"] for r in rows), 3),
            "grounded_share": share("grounded"), "markup_share": share("markup")}


ROWS = [("ttft_p50_s", "answer: time to first token, median", "{:.2f} s", "<1.5 s (project)"),
        ("contains_es", "answer contains the gold answer, XQuAD es", "{:.0%}", ""),
        ("contains_en", "answer contains the gold answer, XQuAD en", "{:.0%}", ""),
        ("supported_mean", "grounding: answer sentences supported (mean)", "{:.0%}", ""),
        ("grounded_share", "grounding: answers grounded (>=75% sentences)", "{:.0%}", ""),
        ("markup_share", "answers showing prompt markup", "{:.0%}", "0 (project)")]


def table(results: dict) -> str:
    project, base = results["project"], results.get("baseline", {})
    lines = ["| figure | project | LangChain tutorial | target | met? |", "|---|---|---|---|---|"]
    for key, label, fmt, target in ROWS:
        value = project.get(key)
        other = base.get(key)
        met = ""
        if key == "ttft_p50_s" and value is not None:
            met = "yes" if value < 1.5 else "NO"
        elif key == "markup_share" and value is not None:
            met = "yes" if value == 0 else "NO"
        lines.append(f"| {label} | {fmt.format(value) if value is not None else '-'} | "
                     f"{fmt.format(other) if other is not None else '-'} | {target} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__)
    parser.add_argument("--questions", type=int, default=12, help="per language (+1 warm-up)")
    parser.add_argument("--articles", type=int, default=4, help="XQuAD articles per language")
    parser.add_argument("--model", default="", help="GGUF (default: the packaged SmolLM2)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from rag.settings import load_settings

    overrides: dict[str, object] = {"model": args.model} if args.model else {}
    for item in args.set:  # typed and checked as the app reads RAG_* variables
        key, _, value = item.partition("=")
        os.environ[f"RAG_{key.upper()}"] = value
    docs, questions = {}, []
    for lang in ("es", "en"):
        lang_docs, lang_questions = load_xquad(lang, args.articles, args.questions)
        docs.update(lang_docs)
        questions += lang_questions
    # Warm-up (loads the models; not counted): a question of its own, so that the first
    # counted one does not find its whole prompt already in llama.cpp's cache.
    questions.insert(0, {"text": "¿De qué tratan estos documentos?", "answers": [],
                         "lang": "es"})
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as tmp:
        work = Path(tmp)
        settings = load_settings(work / "project", **overrides)
        os.environ.pop("RAG_DATA_DIR", None)
        results: dict[str, object] = {}
        log.info("project: %d questions", len(questions) - 1)
        project_rows = run_project(docs, questions, work, overrides)
        results["project"] = summarize(project_rows)
        baseline_rows: list[dict] = []
        if not args.no_baseline:
            log.info("baseline: %d questions", len(questions) - 1)
            baseline_rows = run_baseline(docs, questions, work, settings)
            results["baseline"] = summarize(baseline_rows)
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    header = (f"`python -m bench.answers` of {datetime.now(UTC).isoformat(timespec='seconds')}"
              f" (commit {commit}): {args.questions} es + {args.questions} en XQuAD questions "
              f"over {args.articles}+{args.articles} articles, model "
              f"{Path(settings.model).name if settings.model else 'SmolLM2-135M (default)'}, "
              f"{settings.threads} threads, top-k {settings.top_k}; load average {load}.")
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit,
              "label": args.label, "set": args.set,
              "overrides": {k: str(v) for k, v in overrides.items()},
              "machine": machine_meta(), "load_average": load, **results,
              "rows": {"project": project_rows, "baseline": baseline_rows}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "answers" + (f"-{args.label}" if args.label else "")
    (out / f"{stem}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1),
                                      encoding="utf-8")
    markdown = header + "\n\n" + table(results) + "\n"
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
