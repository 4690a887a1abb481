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
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.common import ROOT, load_average, machine_meta
from bench.phases import PHASES, Bench  # the phases themselves

RESULTS = ROOT / "bench" / "results"


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
