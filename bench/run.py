"""Benchmark: the project against the pipeline most users write by hand, in the same run.

    .venv/bin/python -m bench.run            # full run (`make bench`); prints the table and
                                             # writes bench/results/latest.{json,md}
    .venv/bin/python -m bench.run --smoke    # tiny corpus, every figure, a few minutes

Baseline: LangChain ``PyPDFLoader``/``TextLoader`` -> ``RecursiveCharacterTextSplitter(1000,
200)`` -> ``HuggingFaceEmbeddings`` (all-MiniLM-L6-v2) -> ``FAISS.from_documents`` ->
``LlamaCpp`` (the same SmolLM2 GGUF); see ``bench/baseline.py``. The project runs with its
default settings through ``rag.service`` (the multilingual USE embedder; retrieval quality
is also reported with its MiniLM).

Corpus: five Debian manuals as PDFs (779 pages, Spanish and English, fetched once with
apt-get) plus the 48 XQuAD articles per language as text documents (``../shared/data/xquad``
from the repository root; without it, the 9-article subset in tests/data/xquad, as the
results' ``corpus.xquad_articles`` records). The smoke run needs only the repository.

Each ingest runs in its own process (peak memory = that child's ``ru_maxrss``), project and
baseline alternating, ``--repeats`` times; figures are medians. Latency and answer timings
interleave project and baseline query by query in one process, so both see the same load:
on a shared machine, compare the ratios, not the absolute numbers. Baseline installation:
bench/requirements.txt (see there).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import coldstart, corpus, report
from bench.common import (
    ROOT,
    IngestClient,
    WorkerError,
    load_average,
    machine_meta,
    run_worker,
)
from bench.project import STAGES

RESULTS = ROOT / "bench" / "results"

# Questions for the answer figure: about the Debian manuals and the XQuAD articles, in both
# languages (the first one only warms the models up).
ANSWER_QUESTIONS = [
    "What is a Debian maintainer?",
    "¿Qué hace el comando dpkg-buildpackage?",
    "How do I set up a chroot with debootstrap?",
    "How many points did the Panthers defense surrender?",
    "¿Cómo se configura la red en Debian?",
    "What does the Debian Free Software Guidelines say about licenses?",
    "¿Quién ganó la Super Bowl 50?",
    "What is the purpose of the debian/rules file?",
    "¿Qué es un paquete fuente?",
]

PHASES = ("ingest", "quality", "latency", "answer", "cold_start")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} load {load_average()}] {message}", file=sys.stderr,
          flush=True)


def default_embedder() -> str:
    from rag.settings import Settings

    return Settings().embedder


def git_state() -> dict[str, object]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "rag", "app.py", "pages"))}


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work, self.smoke = args, work, args.smoke
        self.raw: dict[str, object] = {}
        self.errors: dict[str, str] = {}
        self.profiles: dict[str, object] = {}
        self.repeats = args.repeats or (1 if self.smoke else 3)
        self.overrides: dict[str, object] = dict(args.set or [])
        if self.smoke:  # checks, not measures: one thread stays steady on a loaded CI machine
            self.overrides.setdefault("n_threads", 1)
        self.corpus: dict = {}

    def worker(self, task: str, config: dict, timeout: float = 3600) -> dict:
        return run_worker(task, config, self.work / "runs", timeout=timeout)

    # ---- phases ------------------------------------------------------------------------
    def ingest(self) -> None:
        """Both pipelines' workers alive at once, fed the same files in turns (the order
        alternates file by file), so they share the machine's conditions; then the same
        files again, unchanged (the baseline's re-ingest only in the first repeat: without
        change detection it is the same work again)."""
        files = self.corpus["files"]
        runs: dict[str, list[dict]] = {"project": [], "baseline": []}
        for r in range(self.repeats):
            log(f"ingest {r + 1}/{self.repeats}: {len(files)} files, {self.corpus['pages']} "
                "pages, project and baseline file by file")
            order = ["project", "baseline"] if r % 2 == 0 else ["baseline", "project"]
            configs = {"project": {"data_dir": str(self.work / f"project-{r}"),
                                   "overrides": self.overrides},
                       "baseline": {"index_dir": str(self.work / f"baseline-{r}")}}
            clients: dict[str, IngestClient] = {}
            totals = {side: {"ingest_s": 0.0, "stages_s": dict.fromkeys(STAGES, 0.0),
                             "pages": 0, "chunks": 0, "characters": 0, "files": len(files),
                             "failed": []} for side in order}
            try:
                for side in order:
                    clients[side] = IngestClient(side, configs[side], self.work / "runs")
                    totals[side].update(clients[side].info)
                for i, path in enumerate(files):
                    for side in (order if i % 2 == 0 else order[::-1]):
                        result = clients[side].call("ingest", path)
                        total = totals[side]
                        total["ingest_s"] += result["seconds"]
                        for stage, seconds in result["stages_s"].items():
                            total["stages_s"][stage] += seconds
                        for key in ("pages", "chunks", "characters"):
                            total[key] += result[key]
                        total["failed"] += result["failed"]
                for side in order:
                    result = clients[side].call("finish")
                    totals[side]["ingest_s"] += result["seconds"]
                    for stage, seconds in result["stages_s"].items():
                        totals[side]["stages_s"][stage] += seconds
                again = [s for s in order if s == "project" or r == 0]
                for side in again:
                    totals[side].update(reingest_s=0.0, reingest_statuses=[])
                for i, path in enumerate(files):
                    for side in (again if i % 2 == 0 else again[::-1]):
                        result = clients[side].call("reingest", path)
                        totals[side]["reingest_s"] += result["seconds"]
                        totals[side]["reingest_statuses"].append(result["status"])
                for side in again:
                    totals[side]["reingest_s"] += clients[side].call("finish_reingest")["seconds"]
                    totals[side]["reingest_statuses"] = sorted(
                        set(totals[side]["reingest_statuses"]))
            finally:
                for side, client in clients.items():
                    totals[side]["max_rss_mb"] = client.close()
            for side in order:
                totals[side]["load_average"] = load_average()
                runs[side].append(totals[side])
                t = totals[side]
                log(f"  {side}: {t['ingest_s']:.1f} s, {t['chunks']} chunks, re-ingest "
                    f"{t.get('reingest_s', float('nan')):.2f} s, {t['max_rss_mb']} MB")
        self.raw["ingest"] = runs

    def quality(self) -> None:
        articles = 2 if self.smoke else None
        limit = 15 if self.smoke else None
        documents = {lang: [str(p) for p in sorted((self.work / "corpus" / f"xquad-{lang}")
                                                   .glob("*.txt"))]
                     for lang in corpus.LANGUAGES}

        def questions(items: list[corpus.Question]) -> list[dict]:
            return [{"text": q.text, "answers": list(q.answers)} for q in items[:limit]]

        config = {
            "documents": documents,
            "questions": {"en->en": questions(corpus.xquad_questions("en", articles)),
                          "es->es": questions(corpus.xquad_questions("es", articles)),
                          "es->en": questions(corpus.cross_questions(articles))},
            "pairs": {"en->en": "en", "es->es": "es", "es->en": "en"},
        }
        log(f"quality: baseline ({sum(len(q) for q in config['questions'].values())} queries)")
        baseline = self.worker("quality-baseline", config)
        log("quality: project (minilm, use-multilingual)")
        project = self.worker("quality-project", {
            **config, "data_dir": str(self.work / "quality-project"), "overrides": self.overrides,
            "embedders": list(report.EMBEDDERS)})
        self.raw["quality"] = {"project": project, "baseline": baseline}

    def _ingested(self) -> tuple[str, str]:
        """A project data dir and a baseline index from the ingest phase (or made now)."""
        project_dir, baseline_dir = self.work / "project-0", self.work / "baseline-0"
        if not project_dir.is_dir():
            self.worker("ingest-project", {"files": self.corpus["files"],
                                           "data_dir": str(project_dir), "reingest": False,
                                           "overrides": self.overrides})
        if not baseline_dir.is_dir():
            self.worker("ingest-baseline", {"files": self.corpus["files"],
                                            "index_dir": str(baseline_dir), "reingest": False})
        return str(project_dir), str(baseline_dir)

    def latency(self) -> None:
        project_dir, baseline_dir = self._ingested()
        queries = [q.text for lang in corpus.LANGUAGES for q in corpus.xquad_questions(lang)]
        queries = queries[::max(1, len(queries) // (20 if self.smoke else 200))]
        log(f"latency: {len(queries)} queries, corpus and ~10k chunks")
        self.raw["latency"] = self.worker("latency", {
            "project_data_dir": project_dir, "baseline_index_dir": baseline_dir,
            "queries": queries, "source_files": self.corpus["files"],
            "synthetic_chunks": 300 if self.smoke else 10_000,
            "synthetic_data_dir": str(self.work / "synthetic"), "overrides": self.overrides,
            "one_thread": not self.smoke})

    def answer(self) -> None:
        project_dir, baseline_dir = self._ingested()
        questions = ANSWER_QUESTIONS[:3] if self.smoke else ANSWER_QUESTIONS
        log(f"answer: {len(questions) - 1} questions (+1 warm-up)")
        config = {"project_data_dir": project_dir, "baseline_index_dir": baseline_dir,
                  "questions": questions, "overrides": dict(self.overrides)}
        if self.smoke:  # a short prompt and a few tokens: the smoke run checks, not measures
            config["overrides"].update(max_tokens=8, top_k=1)
            config["one_thread"] = False  # no diagnostic run on one thread
        self.raw["answer"] = self.worker("answer", config)

    def cold_start(self) -> None:
        _, baseline_dir = self._ingested()
        repeats = 1 if self.smoke else self.repeats
        log(f"cold start: {repeats} x (app.py, bench/baseline_app.py)")
        self.raw["cold_start"] = coldstart.measure(
            {"project": (ROOT / "app.py", {f"RAG_{k.upper()}": str(v)
                                           for k, v in self.overrides.items()}),
             "baseline": (ROOT / "bench" / "baseline_app.py", {"BENCH_INDEX_DIR": baseline_dir})},
            repeats, self.work / "coldstart.log")

    # ---- profiles ----------------------------------------------------------------------
    def profile(self) -> None:
        """py-spy profiles of the project's ingest and answer (collapsed stacks + top); the
        baseline's stage split already shows where its time goes (embedding)."""
        from bench import profiles

        folder = self.args.out / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        project_dir, baseline_dir = self._ingested()
        jobs = {
            "ingest-project": ("ingest-project", {"files": self.corpus["files"],
                                                   "data_dir": str(self.work / "profile-p"),
                                                   "overrides": self.overrides}),
            "answer": ("answer", {"project_data_dir": project_dir,
                                  "baseline_index_dir": baseline_dir,
                                  "questions": ANSWER_QUESTIONS[:4],
                                  "overrides": self.overrides}),
        }
        for name, (task, config) in jobs.items():
            path = folder / f"{name}.txt"
            log(f"profile: {name} under py-spy -> {path}")
            run_worker(task, config, self.work / "runs", profile=path)
            self.profiles[name] = profiles.summarize(path)

    # ---- all ---------------------------------------------------------------------------
    def run(self, phases: list[str]) -> None:
        log(f"work dir {self.work}")
        self.corpus = corpus.build_corpus(self.work / "corpus", self.smoke)
        for phase in phases:
            started = time.perf_counter()
            try:
                getattr(self, phase)()
            except Exception as exc:  # reported; the run goes on
                self.errors[phase] = (str(exc) if isinstance(exc, WorkerError)
                                      else traceback.format_exc())[-4000:]
                log(f"{phase} FAILED: {self.errors[phase][-600:]}")
            self.raw.setdefault("phase_seconds", {})[phase] = round(time.perf_counter() - started,
                                                                     1)
        if self.args.profile:
            try:
                self.profile()
            except Exception:
                self.errors["profile"] = traceback.format_exc()[-4000:]


def setting(text: str) -> tuple[str, object]:
    """``FIELD=VALUE`` with VALUE typed like the field of ``rag.settings.Settings``."""
    import dataclasses

    from rag.settings import Settings

    name, _, value = text.partition("=")
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    if name not in defaults or not value:
        raise argparse.ArgumentTypeError(f"not FIELD=VALUE with a field of Settings: {text}")
    kind = type(defaults[name])
    return name, kind(value) if kind in (int, float) else value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny corpus, one repeat: checks that every figure is produced")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where latest.json and latest.md go (default bench/results)")
    parser.add_argument("--work", type=Path,
                        help="scratch folder (default: a new temporary folder, removed after)")
    parser.add_argument("--repeats", type=int,
                        help="ingest and cold-start repeats per pipeline (default 3; smoke 1)")
    parser.add_argument("--only", nargs="+", choices=PHASES, help="run only these phases")
    parser.add_argument("--set", action="append", type=setting, metavar="FIELD=VALUE",
                        help="a project setting for this run (rag/settings.py field, e.g. "
                             "n_threads=1 or embedder=minilm): to try a lever; repeatable")
    parser.add_argument("--rerender", type=Path, metavar="JSON",
                        help="only rebuild the figures, table and Markdown from the raw "
                             "measurements of a results JSON (e.g. after changing the report)")
    parser.add_argument("--profile", action="store_true",
                        help="also record py-spy profiles of the project's ingest and answer")
    return parser.parse_args(argv)


def rerender(path: Path, out: Path) -> int:
    document = json.loads(path.read_text(encoding="utf-8"))
    meta = document["meta"]
    figures = report.build(document["raw"], meta["project_default_embedder"])
    document["figures"] = report.as_json(figures)
    write(out, document, figures)
    return 0


def write(out: Path, document: dict, figures: list[report.Figure]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "latest.json", out / "latest.md"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    tmp.replace(json_path)
    md_path.write_text(markdown(figures, document["meta"], document["errors"]),
                       encoding="utf-8")
    print(report.console_table(figures))
    for phase, error in document["errors"].items():
        print(f"\n{phase} failed:\n{error[-1500:]}", file=sys.stderr)
    print(f"\nwrote {json_path} and {md_path.name} ({document['meta']['seconds']:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rerender:
        return rerender(args.rerender, args.out.resolve())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.out = args.out.resolve()
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="chatdocs-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    bench = Bench(args, work)
    load_before = load_average()
    try:
        bench.run(list(args.only or PHASES))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    embedder = str(bench.overrides.get("embedder", default_embedder()))
    figures = report.build(bench.raw, embedder)
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "smoke": args.smoke, "repeats": bench.repeats, "load_average_before": load_before,
        "project_settings_changed": bench.overrides,
        "load_average_after": load_average(), "project_default_embedder": embedder,
        "git": git_state(), "machine": machine_meta(),
        "corpus": {k: v for k, v in bench.corpus.items() if k not in ("files", "texts")},
        "command": "python -m bench.run" + (" --smoke" if args.smoke else "")
                   + "".join(f" --set {k}={v}" for k, v in bench.overrides.items()),
    }
    document = {"meta": meta, "figures": report.as_json(figures), "errors": bench.errors,
                "profiles": bench.profiles, "raw": bench.raw}
    write(args.out, document, figures)
    return 1 if bench.errors else 0


def markdown(figures: list[report.Figure], meta: dict, errors: dict[str, str]) -> str:
    machine = meta["machine"]
    corpus_info = meta["corpus"]
    lines = [
        f"Benchmark `{meta['command']}` of {meta['started']} (commit {meta['git']['commit']}"
        f"{', with local changes' if meta['git']['dirty'] else ''}): {machine['cpu']}, "
        f"{machine['cores']} cores{', native bf16' if machine['native_bf16'] else ''}, "
        f"load average {meta['load_average_before']} before. Corpus: "
        f"{len(corpus_info.get('pdfs', []))} PDFs and "
        f"{corpus_info.get('pages', 0) - sum(corpus_info.get('pdf_pages', {}).values())} "
        f"XQuAD articles, {corpus_info.get('pages', 0)} pages. Medians of "
        f"{meta['repeats']} runs; ratio = times better for the project.",
        "",
        report.markdown_table(figures),
        "",
    ]
    notes = [f"- {f.label}: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["Notes:", "", *notes, ""]
    if errors:
        lines += ["Failed phases: " + ", ".join(sorted(errors)), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
