"""PDF text extraction quality and speed on real Debian manuals with plain-text twins.

For each package: word-F1 (bag-of-words over lowercased ``\\w+`` tokens) of the extracted
text against the ``.txt`` twin the package ships, seconds and pages/s, for

* ``loader``: ``rag.loaders.load_file`` (pypdfium2 + paragraph gaps + cleaning),
* ``pdfium-raw``: bare pypdfium2 ``get_text_range()`` per page,
* ``pypdf``: pypdf's default ``page.extract_text()``.

Run: ``.venv/bin/python bench/extract_quality.py`` (or ``-m bench.extract_quality``); it
prints a table and writes ``bench/results/extract_quality.json``. Packages are fetched once
with ``apt-get download`` into ``~/.cache/chatdocs-test-data`` (see tests/debian_docs.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pypdf
import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # rag, and tests/debian_docs.py

PACKAGES = ["maint-guide-es", "maint-guide", "developers-reference", "debian-reference-en",
            "debian-reference-es"]
RESULTS = ROOT / "bench" / "results" / "extract_quality.json"


def _loader(path: Path) -> tuple[str, int]:
    from rag.loaders import load_file

    doc = load_file(path)
    return doc.text, doc.pages


def _pdfium_raw(path: Path) -> tuple[str, int]:
    pdf = pdfium.PdfDocument(path)
    try:
        texts = []
        for page in pdf:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\f".join(texts), len(texts)
    finally:
        pdf.close()


def _pypdf(path: Path) -> tuple[str, int]:
    reader = pypdf.PdfReader(path)
    texts = [page.extract_text() or "" for page in reader.pages]
    return "\f".join(texts), len(texts)


EXTRACTORS: dict[str, Callable[[Path], tuple[str, int]]] = {
    "loader": _loader, "pdfium-raw": _pdfium_raw, "pypdf": _pypdf,
}


def measure(package: str, repeats: int) -> list[dict[str, object]]:
    from debian_docs import pdf_and_twin, word_f1

    pdf, twin = pdf_and_twin(package)
    rows = []
    for name, extract in EXTRACTORS.items():
        times, text, pages = [], "", 0
        for _ in range(repeats if name != "pypdf" else 1):  # pypdf is slow; once is enough
            start = time.perf_counter()
            text, pages = extract(pdf)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        rows.append({
            "package": package, "pdf": pdf.name, "extractor": name, "pages": pages,
            "word_f1": round(word_f1(text, twin), 4), "seconds": round(seconds, 3),
            "pages_per_s": round(pages / seconds, 1), "characters": len(text),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=PACKAGES)
    parser.add_argument("--repeats", type=int, default=3, help="median of N runs (not pypdf)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # pypdf warns about every odd object
    rows = [row for package in args.packages for row in measure(package, args.repeats)]
    header = (f"{'package':<22}{'extractor':<12}{'pages':>6}{'word-F1':>9}{'seconds':>9}"
              f"{'pages/s':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['package']:<22}{r['extractor']:<12}{r['pages']:>6}{r['word_f1']:>9.4f}"
              f"{r['seconds']:>9.3f}{r['pages_per_s']:>9.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "pypdfium2": str(pdfium.PYPDFIUM_INFO), "pdfium": str(pdfium.PDFIUM_INFO),
            "pypdf": pypdf.__version__, "repeats": args.repeats}
    RESULTS.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n",
                       encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
