"""Command line: ``python -m rag ingest|search|ask|extract|list|delete|summarize|reindex``,
with ``models`` (rag.models_cli) and ``users`` (rag.users_cli).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rag.cli_input import (
    UsageError,
    check_documents,
    display_name,
    invalid_utf8,
    positive,
    read_history,
    read_text,
)
from rag.errors import RagError
from rag.schema import Source

if TYPE_CHECKING:
    from rag.service import IngestProgress

log = logging.getLogger("rag")


def _source_json(source: Source) -> dict[str, object]:
    return {"file": source.file_name, "page": source.page, "heading": source.heading,
            "score": source.score, "text": source.text}


def service_for(args: argparse.Namespace):
    """The service of ``--data``/``--user``/``--library``, with the settings' problems
    printed as warnings. ``search`` and ``ask`` cover the shared library too, as the app
    does (with accounts on, once something was published)."""
    from rag import service as engine
    from rag import shared
    from rag.settings import load_settings, option_issues

    overrides = {"library": args.library, "embedder": args.embedder,
                 "model": getattr(args, "model", None)}
    for issue in option_issues(**overrides):
        raise UsageError(issue.describe().removesuffix("; it was ignored"))
    settings = load_settings(_home(args), **overrides)
    for issue in settings.issues:  # shown even with --quiet, which hides the log
        print(f"warning: {issue.describe()}", file=sys.stderr)
    service = engine.create_service(settings)  # the app's factory (tests inject fakes)
    if getattr(args, "command", None) in ("search", "ask"):
        shared.attach(service, load_settings(args.data), engine.create_service)
    return service


def _home(args: argparse.Namespace) -> str | Path | None:
    """The data dir of ``--user`` (their own home), else ``--data`` (the data dir itself:
    single-person mode, which is also the first administrator's home)."""
    if not getattr(args, "user", None):
        return args.data
    from rag.settings import load_settings
    from rag.users_cli import accounts_for

    accounts = accounts_for(load_settings(args.data))
    return accounts.home(accounts.get(args.user))


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag.service import expand_paths

    service = service_for(args)
    files = expand_paths(args.paths)
    if not files:
        print("No supported files found (.pdf, .docx, .txt, .md).", file=sys.stderr)
        return 2
    failed = 0
    with tqdm(total=len(files), unit="file", file=sys.stderr, disable=args.quiet) as bar:
        for path in files:
            bar.set_postfix_str(path.name[:40])
            report = service.ingest_file(path)
            failed += not report.ok
            if report.ok:
                line = (f"{report.status:8} {report.file_name}: {report.pages} pages, "
                        f"{report.chunks} chunks, {report.seconds:.2f} s")
                if report.warnings:
                    line += " — " + "; ".join(report.warnings)
            else:
                line = f"failed   {report.file_name}: {report.error}"
            tqdm.write(line, file=sys.stdout)
            bar.update(1)
    documents, chunks = service.stats()
    print(f"library '{service.settings.library}': {documents} documents, {chunks} chunks")
    return 1 if failed else 0


def cmd_search(args: argparse.Namespace) -> int:
    service = service_for(args)
    check_documents(service, args.doc)
    if args.queries:
        queries = [q.strip() for q in read_text(args.queries, "--queries").splitlines()
                   if q.strip()]
    elif args.question:
        queries = [args.question]
    else:
        print("Give a QUESTION or --queries FILE.", file=sys.stderr)
        return 2
    for query in queries:
        sources = service.search(query, args.k, args.doc or None)
        if args.json:
            print(json.dumps({"query": query, "results": [_source_json(s) for s in sources]},
                             ensure_ascii=False), flush=True)
        else:
            print(f"# {query}")
            for s in sources:
                print(f"{s.rank}. [{s.score:.3f}] {s.citation}\n   {s.text[:300]}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    service = service_for(args)
    history = read_history(args.history) if args.history else []
    check_documents(service, args.doc)
    stream = service.ask(args.question, history=history, k=args.k, documents=args.doc or None,
                         language=args.lang)
    if not args.json:
        if stream.query != args.question:
            print(f"(searched: {stream.query})", file=sys.stderr)
        for piece in stream:
            print(piece, end="", flush=True)
        print()
    answer = stream.result()
    if args.json:
        checked = answer.assessment
        print(json.dumps({"answer": answer.text, "query": answer.query,
                          "language": answer.language,
                          "sources": [_source_json(s) for s in answer.sources],
                          "grounding": checked.grounding.as_json() if checked else None,
                          "language_ok": checked.language_ok if checked else True,
                          "timings": asdict(answer.timings)}, ensure_ascii=False))
    else:
        for s in answer.sources:
            print(f"[{s.rank}] {s.citation} (score {s.score:.2f})")
        if answer.assessment is not None:
            checked = answer.assessment.grounding
            print(f"grounding: {checked.supported:.0%} of sentences supported"
                  + "".join(f"\n  unsupported: {u}" for u in checked.unsupported))
        t = answer.timings
        print(f"retrieval {t.retrieve_ms:.0f} ms, first token {t.first_token_ms:.0f} ms, "
              f"{t.tokens_per_s:.1f} tok/s", file=sys.stderr)
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Parse in the sandbox, as ingest does (a hostile file costs a worker, not the CLI)."""
    from rag import sandbox
    from rag.settings import load_settings

    settings = load_settings(args.data)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{args.file}: {exc.strerror or 'cannot be read'}.") from None
    document = sandbox.load_bytes(data, display_name(path), timeout_s=settings.parse_timeout_s,
                                  memory_mb=settings.parse_memory_mb)
    sys.stdout.write(document.text + "\n")
    for warning in document.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    documents = service_for(args).list_documents()
    if args.json:
        print(json.dumps([asdict(d) for d in documents], ensure_ascii=False, indent=2))
        return 0
    for d in documents:
        print(f"{d.name}\t{d.kind}\t{d.pages} pages\t{d.chunks} chunks\t{d.added_at}")
    print(f"{len(documents)} documents")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    service_for(args).delete_document(args.name)
    print(f"deleted {args.name}")
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    bar = tqdm(total=0, unit="part", file=sys.stderr, disable=args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    stream = service_for(args).summarize(args.name, language=args.lang, progress=progress)
    bar.close()
    for piece in stream:
        print(piece, end="", flush=True)
    print()
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    def announce(progress: IngestProgress) -> None:
        if progress.stage == "parse" and not args.quiet:
            print(f"re-indexing {progress.file_name}", file=sys.stderr, flush=True)

    reports = service_for(args).reindex(progress=announce)
    for r in reports:
        print(f"{r.status:8} {r.file_name}: {r.chunks} chunks" + (f" {r.error}" if r.error else ""))
    return 1 if any(not r.ok for r in reports) else 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", help="data directory (default: ./data or $RAG_DATA_DIR)")
    common.add_argument("--library", help="library name (default: 'default')")
    common.add_argument("--embedder", help="minilm | use-multilingual")
    common.add_argument("--user", help="act on this account's library and chats "
                        "(default: the data dir's own, i.e. the first administrator's)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or logs")
    common.add_argument("-v", "--verbose", action="store_true")
    parser = argparse.ArgumentParser(prog="python -m rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="add files or folders to the library")
    p.add_argument("paths", nargs="+")
    p.set_defaults(run=cmd_ingest)

    for name, run, help_text in (("search", cmd_search, "retrieve passages"),
                                 ("ask", cmd_ask, "answer a question")):
        p = sub.add_parser(name, parents=[common], help=help_text)
        p.add_argument("question", nargs="?" if name == "search" else None)
        p.add_argument("--k", type=positive, help="passages to retrieve (1 or more)")
        p.add_argument("--doc", action="append", help="only this document (repeatable)")
        p.add_argument("--json", action="store_true")
        p.set_defaults(run=run)
        if name == "search":
            p.add_argument("--queries", help="file with one query a line")
        else:
            p.add_argument("--lang", choices=["auto", "es", "en"])
            p.add_argument("--model", help="GGUF path (default: the packaged SmolLM2)")
            p.add_argument("--history", help="JSON file: [{role, content}, ...]")

    p = sub.add_parser("extract", parents=[common], help="print the text the app sees")
    p.add_argument("file")
    p.set_defaults(run=cmd_extract)
    p = sub.add_parser("list", parents=[common], help="list documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_list)
    p = sub.add_parser("delete", parents=[common], help="delete a document")
    p.add_argument("name")
    p.set_defaults(run=cmd_delete)
    p = sub.add_parser("summarize", parents=[common], help="summarize a document")
    p.add_argument("name")
    p.add_argument("--lang", choices=["auto", "es", "en"])
    p.add_argument("--model", help="GGUF path")
    p.set_defaults(run=cmd_summarize)
    p = sub.add_parser("reindex", parents=[common], help="re-chunk and re-embed everything")
    p.set_defaults(run=cmd_reindex)
    from rag.models_cli import add_models_parser
    from rag.users_cli import add_users_parser

    add_models_parser(sub, common)
    add_users_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    paths = set(getattr(args, "paths", None) or [])  # file names may be any bytes
    bad = invalid_utf8([a for a in argv if a not in paths])
    try:
        if bad is not None:
            raise UsageError(f"an argument is not valid UTF-8 text: {bad!r}")
        return args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback (with the install's paths) on screen
        log.debug("unexpected failure", exc_info=True)
        print(f"error: unexpected failure ({type(exc).__name__}); run again with -v for "
              "details.", file=sys.stderr)
        return 1
