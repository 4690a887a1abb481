"""OCR of scanned PDFs with the real Tesseract (Debian's spa/eng data, through tesserocr)
inside the sandboxed parser, and through the real engine: an image-only PDF made from real
Spanish pages is read, and a sentence from its page 3 is cited as page 3. OCR keeps to its
caps (pages and time per document, pixels per page) and the language setting."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from debian_docs import pdf_and_twin, word_f1
from PIL import Image

from rag import sandbox
from rag.errors import NoTextError
from rag.i18n import warning_text
from rag.loaders import ParseOptions, load_bytes, ocr
from rag.service import RagService
from rag.settings import load_settings
from tests.pdf_factory import make_pdf

SCAN_DPI = 150  # a plain office scan
SOURCE_PAGES = (12, 13, 14)  # maint-guide-es: 2 Primeros pasos, 2.1, 2.2 (1-based)
# maint-guide-es's running header (as in test_pdf_structure), and as OCR may read it.
RUNNING = re.compile(r"Guía del nuevo desarrollador de Debian\s+(\d+ / 63|[ivx]+)\b")
RUNNING_OCR = re.compile(r"desarrollador\s+de\s+Debian\s*\d+\s*/\s*63", re.IGNORECASE)
PAGE_3_SENTENCE = ("Si el paquete debe pertenecer a la sección main el programa debe cumplir con "
                   "las Directrices de Debian para el software libre")


def _image_pdf(images) -> bytes:
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:],
                   resolution=SCAN_DPI)
    return out.getvalue()


@pytest.fixture(scope="module")
def source():
    pdf = pdfium.PdfDocument(str(pdf_and_twin("maint-guide-es")[0]))
    yield pdf
    pdf.close()


@pytest.fixture(scope="module")
def scan(source) -> bytes:
    """The three real pages rendered to images and rebuilt as an image-only PDF."""
    images = [source[p - 1].render(scale=SCAN_DPI / 72).to_pil().convert("RGB")
              for p in SOURCE_PAGES]
    data = _image_pdf(images)
    check = pdfium.PdfDocument(data)
    assert all(not check[i].get_textpage().get_text_range().strip() for i in range(3))
    check.close()
    return data


def test_scanned_pdf_is_read_and_cited_by_page(tmp_path, scan, source):
    service = RagService(load_settings(tmp_path))
    steps = []
    report = service.ingest_bytes("escaneo.pdf", scan, progress=steps.append)
    assert report.status == "added", report
    assert report.ocr_pages == [1, 2, 3] and report.ocr_confidence >= 80, report
    assert any(re.match(r"pages 1-3 had no text layer and were read by OCR \(language spa, "
                        r"mean confidence \d+%\)$", w) for w in report.warnings), report
    ocr_steps = [(s.done, s.total) for s in steps if s.stage == "ocr"]
    assert ocr_steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
    top = service.search(PAGE_3_SENTENCE, k=1)[0]
    assert top.page == 3, top
    assert top.citation == "escaneo.pdf, p. 3 · 2.2 Elige el programa"
    chunks = service.library.chunks_of("escaneo.pdf")
    assert {c.page for c in chunks} == {1, 2, 3}
    leaks = [c.text[:120] for c in chunks if RUNNING.search(c.text) or RUNNING_OCR.search(c.text)]
    assert not leaks
    text = "\n".join(c.text for c in chunks if c.page == 3)
    layer = source[SOURCE_PAGES[2] - 1].get_textpage().get_text_range()
    assert word_f1(text, layer) >= 0.85  # the page's text, less its running header


def test_mixed_pdf_ocrs_only_the_pages_without_text(scan):
    """Two typed pages around one scanned page: only the scanned one is OCR'd."""
    scanned = pdfium.PdfDocument(scan)
    typed = pdfium.PdfDocument(make_pdf(["Primera página escrita a máquina.",
                                         "Tercera página, también con texto."]))
    mixed = pdfium.PdfDocument.new()
    mixed.import_pages(typed, [0])
    mixed.import_pages(scanned, [2])
    mixed.import_pages(typed, [1])
    out = io.BytesIO()
    mixed.save(out)
    for pdf in (scanned, typed, mixed):
        pdf.close()
    document = sandbox.load_bytes(out.getvalue(), "mixto.pdf")
    assert document.ocr_pages == [2]
    assert {s.page for s in document.sections} == {1, 2, 3}
    assert any("Directrices de Debian" in s.text for s in document.sections if s.page == 2)


def test_without_tesseract_the_old_message_stays(scan, monkeypatch):
    monkeypatch.setattr(ocr, "tessdata", lambda: None)
    with pytest.raises(NoTextError, match=r"^escaneo\.pdf has no text layer \(scanned images\?"
                                          r"\): OCR is not supported\.$"):
        load_bytes(scan, "escaneo.pdf")


def test_language_choice():
    installed = {"spa", "eng", "osd"}
    spanish = "el paquete que deseas construir está en la sección main de la distribución " * 5
    assert ocr.pick_language("auto", spanish, installed) == "spa"
    assert ocr.pick_language("auto", "The package is in the archive and it is " * 5,
                             installed) == "eng"
    assert ocr.pick_language("auto", "", installed) == "spa+eng"
    assert ocr.pick_language("spa+fra", "", installed) == "spa"
    assert ocr.pick_language("deu", "", installed) == "eng"


# ---- caps: pages and time per document, pixels per page -----------------------------------


def _steps() -> tuple[list[tuple[int, int]], ParseOptions]:
    steps: list[tuple[int, int]] = []
    return steps, ParseOptions(progress=lambda _stage, done, total: steps.append((done, total)))


def test_ocr_reads_at_most_max_ocr_pages(monkeypatch):
    """Pages past the cap are not OCR'd, and the report says which, in both languages."""
    monkeypatch.setattr(ocr, "MAX_OCR_PAGES", 2)
    steps, options = _steps()
    document = load_bytes(make_pdf(["Primera página, escrita.", "", "", "", ""]), "largo.pdf",
                          options)
    assert steps == [(0, 2), (1, 2), (2, 2)]  # pages 2 and 3 only
    notice = "pages 4-5 were not read by OCR: at most 2 pages a document"
    assert notice in document.warnings, document.warnings
    assert not any(re.match(r"pages? [45] has no text", w) for w in document.warnings)
    assert warning_text(notice, "es") == ("no se leyó con OCR (como máximo 2 páginas por "
                                          "documento): página(s) 4-5")


def test_ocr_stops_after_its_time_budget(monkeypatch):
    monkeypatch.setattr(ocr, "MAX_OCR_S", 0.0)
    steps, options = _steps()
    document = load_bytes(make_pdf(["Primera página, escrita.", "", "", ""]), "lento.pdf",
                          options)
    assert steps == [(0, 3), (1, 3)]  # the first page is read, then time is up
    notice = "pages 3-4 were not read by OCR: at most 0 minutes of OCR a document"
    assert notice in document.warnings, document.warnings
    assert warning_text(notice, "es") == ("no se leyó con OCR (como máximo 0 minutos de OCR "
                                          "por documento): página(s) 3-4")


def test_a_huge_scanned_page_is_read_within_the_memory_cap(source):
    """A 3000 x 4000 pt scanned plan (208 megapixels at 300 dpi: more than the worker's
    default 1024 MB) is rendered at a lower resolution and read in the sandbox."""
    scale = ocr.render_scale(3000, 4000)
    assert scale < ocr.RENDER_DPI / 72 and 3000 * 4000 * scale**2 <= ocr.MAX_RENDER_PIXELS
    assert ocr.render_scale(595, 842) == ocr.RENDER_DPI / 72  # A4 keeps 300 dpi
    page = source[SOURCE_PAGES[1] - 1].render(scale=SCAN_DPI / 72, grayscale=True).to_pil()
    canvas = Image.new("L", (1500, 2000), 255)  # 36 dpi: 3000 x 4000 pt
    canvas.paste(page, (100, 100))
    out = io.BytesIO()
    canvas.save(out, format="PDF", resolution=36)
    document = sandbox.load_bytes(out.getvalue(), "plano.pdf")  # the default caps
    assert document.ocr_pages == [1]
    layer = source[SOURCE_PAGES[1] - 1].get_textpage().get_text_range()
    assert word_f1(document.text, layer) >= 0.85


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_tesseract_gets_one_thread_in_the_worker(monkeypatch):
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    worker = sandbox._Worker(256)
    try:
        environ = Path(f"/proc/{worker.proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        worker.close()
    assert b"OMP_THREAD_LIMIT=1" in environ


# ---- the language setting ---------------------------------------------------------------


@pytest.fixture(scope="module")
def english_scan() -> bytes:
    """A real English page (developers-reference) as an image-only PDF."""
    pdf = pdfium.PdfDocument(str(pdf_and_twin("developers-reference")[0]))
    try:
        image = pdf[16].render(scale=SCAN_DPI / 72).to_pil().convert("RGB")
    finally:
        pdf.close()
    return _image_pdf([image])


@pytest.mark.parametrize("setting", ["eng", "spa"])
def test_the_ocr_setting_reaches_the_worker(tmp_path, monkeypatch, english_scan, setting):
    """RAG_OCR goes from the settings through the engine to the sandboxed worker, which
    reads the scan in that language and says so in the report."""
    monkeypatch.setenv("RAG_OCR", setting)
    settings = load_settings(tmp_path)
    assert settings.ocr == setting
    report = RagService(settings).ingest_bytes("english.pdf", english_scan)
    assert report.status == "added" and report.ocr_pages == [1], report
    assert any(w.startswith(f"page 1 had no text layer and was read by OCR (language "
                            f"{setting}, mean confidence") for w in report.warnings), report


def test_pages_read_in_parallel_match_one_at_a_time(scan, monkeypatch):
    """With several cores, pages after the first are read on parallel threads: the same
    text and confidence per page as one thread gives, reported in page order, with the
    progress counting every page once."""
    import threading

    threads: set[str] = set()
    read = ocr.PageReader.read

    def recording(self, image):
        threads.add(threading.current_thread().name)
        return read(self, image)

    monkeypatch.setattr(ocr.PageReader, "read", recording)
    results = {}
    for count in (1, 3):
        monkeypatch.setattr(ocr, "ocr_threads", lambda count=count: count)
        steps: list[tuple[int, int]] = []
        pdf = pdfium.PdfDocument(scan)
        try:
            results[count] = ocr.ocr_pages(pdf, [0, 1, 2], "spa", "",
                                           lambda done, total: steps.append((done, total)))
        finally:
            pdf.close()
        assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)], steps
    (one, language_one), (three, language_three) = results[1], results[3]
    assert language_one == language_three == "spa"
    assert sorted(one) == sorted(three) == [0, 1, 2]
    assert {i: r.text for i, r in one.items()} == {i: r.text for i, r in three.items()}
    assert len({t for t in threads if t.startswith("ocr")}) >= 2, threads
