"""Document structure benchmark (issue 9): retrieval on real manuals before/after the PDF
layout work, XQuAD recall unchanged, and OCR quality and speed.

- ``retrieval``: recall@1/@5 of hand-written questions (``bench/data/manual_questions.json``,
  gold = the answering section, written before any run) on maint-guide-es (Spanish) and
  developers-reference (English). *before* = each page as one section, as the loader did
  before (no header/footer or contents removal, no headings); *after* = the loader now
  (layout cleanup, outline/numbered sections, heading path embedded with the passage).
  Same embedder, chunker, FAISS + BM25 hybrid search. A hit: a retrieved passage holds a
  line (25+ characters) of the gold section's text or of one of its subsections.
- ``xquad``: es->es answer-containment recall@5 on XQuAD articles as ``.txt`` documents
  (the non-PDF path; must not drop).
- ``ocr``: pages of maint-guide-es rendered to images, rebuilt as an image-only PDF, read
  by the loader (Tesseract): word-F1 against the same pages' text layer, pages/s.

Run: ``.venv/bin/python -m bench.docs [--only retrieval xquad ocr]``; writes
``bench/results/docs.json`` and ``docs.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

QUESTIONS = ROOT / "bench" / "data" / "manual_questions.json"
RESULTS = ROOT / "bench" / "results"
MANUALS = ("maint-guide-es", "developers-reference")
K = 5
log = logging.getLogger("bench.docs")


def _before_document(path: Path):
    """The manual as the loader read it before: one section per page, nothing removed."""
    import hashlib

    from rag.loaders.pdf import _read_pages, clean_pdf_text
    from rag.schema import LoadedDocument, Section

    data = path.read_bytes()
    pages, _, n_pages, warnings, _ = _read_pages(data, path.name)
    sections = [Section(clean_pdf_text(p.text()), page=i + 1) for i, p in enumerate(pages)
                if p is not None and clean_pdf_text(p.text())]
    return LoadedDocument(path.name, "pdf", sections, hashlib.sha256(data).hexdigest(),
                          n_pages, warnings)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _gold_texts(document) -> dict[str, str]:
    """Section number -> its text with its subsections' ("4.4" holds "4.4.1")."""
    texts: dict[str, list[str]] = {}
    for section in document.sections:
        leaf = section.heading.rsplit(" > ", 1)[-1]
        number = leaf.split(" ", 1)[0]
        if re.fullmatch(r"(?:\d+|[A-Z])(?:\.\d+)*", number):
            parts = number.split(".")
            for depth in range(1, len(parts) + 1):
                texts.setdefault(".".join(parts[:depth]), []).append(section.text)
    return {k: _squash("\n".join(v)) for k, v in texts.items()}


def _hit(text: str, gold: str) -> bool:
    return any(len(line.strip()) >= 25 and _squash(line) in gold for line in text.splitlines())


def _library(folder: Path, embedder, documents, embed_heading: bool):
    from rag.chunking import Chunker, embedding_text
    from rag.library import Library

    library = Library(folder, embedder.name, embedder.dim)
    chunker = Chunker(embedder.count_tokens, 200, 24, embedder.max_tokens)
    count = 0
    for document in documents:
        chunks = chunker.split(document)
        texts = [embedding_text(c) if embed_heading else c.text for c in chunks]
        library.add_document(document, chunks, embedder.embed(texts), b"")
        count += len(chunks)
    return library, count


def retrieval(embedder_key: str = "use-multilingual") -> dict:
    from debian_docs import pdf_and_twin

    from rag.embedding import get_embedder
    from rag.loaders import load_file
    from rag.retrieval import hybrid_search

    embedder = get_embedder(embedder_key)
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    out: dict = {"embedder": embedder.name, "k": K, "manuals": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for package in MANUALS:
            path = pdf_and_twin(package)[0]
            after_doc = load_file(path)
            gold = _gold_texts(after_doc)
            variants = {"before": (_before_document(path), False),
                        "after": (after_doc, True),
                        "after, heading not embedded": (after_doc, False)}
            row: dict = {"questions": len(questions[package])}
            for variant, (document, embed_heading) in variants.items():
                start = time.perf_counter()
                folder = Path(tmp) / f"{package}-{len(row)}"
                library, chunks = _library(folder, embedder, [document], embed_heading)
                at1 = at5 = 0
                misses = []
                for item in questions[package]:
                    if item["gold"] not in gold:
                        raise KeyError(f"{package}: no section {item['gold']} found")
                    sources = hybrid_search(library, embedder, item["q"], k=K)
                    hits = [_hit(s.text, gold[item["gold"]]) for s in sources]
                    at1 += bool(hits[:1] and hits[0])
                    at5 += any(hits)
                    if not any(hits):
                        misses.append(item["q"])
                library.close()
                n = len(questions[package])
                row[variant] = {"recall@1": round(at1 / n, 3), "recall@5": round(at5 / n, 3),
                                "chunks": chunks,
                                "seconds": round(time.perf_counter() - start, 1),
                                "misses": misses}
                log.info("%s %s: %s", package, variant, row[variant])
            out["manuals"][package] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=["retrieval", "xquad", "ocr"])
    parser.add_argument("--embedder", default="use-multilingual")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results_path = RESULTS / "docs.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load": os.getloadavg()}
    if "retrieval" in args.only:
        results["retrieval"] = retrieval(args.embedder)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
