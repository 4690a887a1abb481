"""The benchmark's phases, each measuring the project against the baseline in worker
processes: ingest, retrieval quality, search latency, answers, cold start; and the py-spy
profiles of the project. ``bench.run`` drives them and writes the results."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from bench import coldstart, corpus, report
from bench.common import (
    ROOT,
    IngestClient,
    WorkerError,
    load_average,
    run_worker,
)
from bench.project import STAGES

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


class Bench:
    """One benchmark run: its phases, and what they measured, failed and profiled."""

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
