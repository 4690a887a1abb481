"""The benchmark's corpus: real Debian PDF manuals, XQuAD articles as text documents, and
synthesized passages for the large-index latency figure. The smoke run needs only what the
repository ships (tests/data/xquad) and makes its PDF itself.

Debian documentation packages are fetched once with ``apt-get download`` and unpacked with
``dpkg-deb -x`` into ``~/.cache/chatdocs-test-data/<package>`` (or ``$CHATDOCS_TEST_DATA``),
the same cache as ``tests/debian_docs.py``, so tests and benchmark share one download.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(
    os.environ.get("CHATDOCS_TEST_DATA", Path.home() / ".cache" / "chatdocs-test-data")
)
# Several real multi-page manuals, Spanish and English (779 pages in all).
PDF_PACKAGES = ["maint-guide", "maint-guide-es", "developers-reference", "debian-reference-en",
                "debian-reference-es"]
LANGUAGES = ("en", "es")


SHIPPED_XQUAD = ROOT / "tests" / "data" / "xquad"


def xquad_dir() -> Path:
    """The full XQuAD (48 articles) when it lies beside the repository (``../shared/data/
    xquad``, or ``$CHATDOCS_XQUAD_DIR``), else the 9-article subset shipped for the tests: the
    smoke run uses only articles of that subset, so it gives the same corpus either way."""
    override = os.environ.get("CHATDOCS_XQUAD_DIR")
    for candidate in ([Path(override)] if override else []) + [
            ROOT.parent / "shared" / "data" / "xquad"]:
        if (candidate / "xquad.en.json").is_file():
            return candidate
    return SHIPPED_XQUAD


# ------------------------------------------------------------------------------ Debian PDFs
def debian_package(package: str) -> Path:
    """The unpacked root of a Debian package, downloaded once (root runs apt-get update
    first when the package lists are missing)."""
    root = CACHE_DIR / package
    if (root / ".complete").exists():
        return root
    apt_get, dpkg_deb = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if not apt_get or not dpkg_deb:
        raise RuntimeError("apt-get/dpkg-deb not available: cannot fetch the Debian PDFs")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        work = Path(tmp)

        def download() -> subprocess.CompletedProcess[str]:
            return subprocess.run([apt_get, "download", package], cwd=work, capture_output=True,
                                  text=True, check=False)

        done = download()
        if done.returncode != 0 and os.geteuid() == 0:
            subprocess.run([apt_get, "update"], cwd=work, capture_output=True, check=False)
            done = download()
        debs = sorted(work.glob(f"{package}_*.deb"))
        if done.returncode != 0 or not debs:
            raise RuntimeError(f"apt-get download {package} failed: {done.stderr.strip()}")
        target = work / "root"
        target.mkdir()
        subprocess.run([dpkg_deb, "-x", str(debs[0]), str(target)], check=True,
                       capture_output=True)
        (target / ".complete").write_text(debs[0].name + "\n", encoding="utf-8")
        shutil.rmtree(root, ignore_errors=True)
        target.rename(root)
    return root


def debian_pdf(package: str) -> Path:
    root = debian_package(package)
    pdfs = sorted(p for p in root.rglob("*.pdf") if p.is_file() and p.stat().st_size > 0)
    if not pdfs:
        raise FileNotFoundError(f"{package} ships no PDF")
    return pdfs[0].resolve()


# ---------------------------------------------------------------------------------- XQuAD
@dataclass(frozen=True)
class Question:
    id: str
    article: int
    text: str
    answers: tuple[str, ...]


def _load_xquad(lang: str) -> list[dict]:
    return json.loads((xquad_dir() / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]


def _clean(text: str) -> str:
    return text.replace("\ufeff", "").strip()


def write_xquad_documents(lang: str, folder: Path, articles: int | None = None) -> list[Path]:
    """Each article as one ``.txt`` document: its title, then its paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, article in enumerate(_load_xquad(lang)[:articles]):
        title = article["title"].replace("_", " ")
        body = "\n\n".join(_clean(p["context"]) for p in article["paragraphs"])
        slug = re.sub(r"[^A-Za-z0-9]+", "-", article["title"]).strip("-")[:40]
        path = folder / f"xquad-{lang}-{i + 1:02d}-{slug}.txt"
        path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def xquad_questions(lang: str, articles: int | None = None) -> list[Question]:
    out = []
    for i, article in enumerate(_load_xquad(lang)[:articles]):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(_clean(a["text"]) for a in qa["answers"]))
                out.append(Question(qa["id"], i, _clean(qa["question"]), answers))
    return out


def cross_questions(articles: int | None = None) -> list[Question]:
    """Spanish questions with the English gold answers (XQuAD is parallel by id)."""
    english = {q.id: q for q in xquad_questions("en", articles)}
    return [Question(q.id, q.article, q.text, english[q.id].answers)
            for q in xquad_questions("es", articles) if q.id in english]


# -------------------------------------------------------------------------------- synthesis
def synthesize_passages(source_texts: list[str], count: int, seed: int = 7,
                        min_chars: int = 550, max_chars: int = 800) -> list[str]:
    """``count`` passages of real sentences from ``source_texts``, shuffled into new
    combinations: a realistic vocabulary and length, so that BM25 and FAISS work as hard as
    on real text. Each passage fits both pipelines' chunk sizes (one chunk per passage)."""
    sentences = [s.strip() for text in source_texts
                 for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text))
                 if 30 <= len(s.strip()) <= 400]
    if not sentences:
        raise ValueError("no sentences to synthesize from")
    rng = random.Random(seed)
    passages = []
    for _ in range(count):
        parts: list[str] = []
        target = rng.randint(min_chars, max_chars)
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(sentences))
        passages.append(" ".join(parts)[:max_chars])
    return passages


# ------------------------------------------------------------------------------ a tiny PDF
def make_pdf(pages: list[str]) -> bytes:
    """A small valid PDF, one Helvetica text stream per page (for the smoke corpus)."""
    def escape(line: str) -> bytes:
        raw = line.encode("cp1252", errors="replace")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"

    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i)
                                                     for i in range(len(pages)))
               + b"] /Count %d >>" % len(pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>"]
    for i, text in enumerate(pages):
        lines = [b"BT", b"/F1 11 Tf", b"72 720 Td"]
        for n, line in enumerate(text.split("\n")):
            if n:
                lines.append(b"0 -14 Td")
            if line.strip():
                lines.append(escape(line) + b" Tj")
        stream = b"\n".join([*lines, b"ET"])
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def wrap(text: str, width: int = 90) -> str:
    """Hard-wrap ``text`` for a PDF page; blank lines between paragraphs stay."""
    out = []
    for paragraph in text.split("\n\n"):
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        out += [line, ""]
    return "\n".join(out).strip()


def smoke_pdf(path: Path, pages: int = 3) -> Path:
    """A few pages of English XQuAD text as a real (tiny) PDF."""
    texts = [_clean(p["context"]) for a in _load_xquad("en")[-pages:] for p in a["paragraphs"]]
    per_page = max(1, len(texts) // pages)
    page_texts = [wrap("\n\n".join(texts[i * per_page:(i + 1) * per_page])[:3000])
                  for i in range(pages)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_pdf(page_texts))
    return path


def pdf_pages(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        return len(pdf)
    finally:
        pdf.close()


def build_corpus(folder: Path, smoke: bool) -> dict[str, object]:
    """Copy the PDFs and write the XQuAD documents into ``folder``; describe them."""
    folder.mkdir(parents=True, exist_ok=True)
    pdfs: list[Path] = []
    if smoke:
        pdfs.append(smoke_pdf(folder / "smoke-xquad.pdf"))
    else:
        for package in PDF_PACKAGES:
            source = debian_pdf(package)
            target = folder / f"{package}.pdf"
            if not target.exists() or target.stat().st_size != source.stat().st_size:
                shutil.copyfile(source, target)
            pdfs.append(target)
    articles = 2 if smoke else None
    texts = [p for lang in LANGUAGES
             for p in write_xquad_documents(lang, folder / f"xquad-{lang}", articles)]
    pages = {p.name: pdf_pages(p) for p in pdfs}
    return {"files": [str(p) for p in pdfs + texts], "pdfs": [str(p) for p in pdfs],
            "texts": [str(p) for p in texts], "pdf_pages": pages,
            "xquad_articles": len(_load_xquad("en")),
            "pages": sum(pages.values()) + len(texts),
            "bytes": sum(p.stat().st_size for p in pdfs + texts)}
