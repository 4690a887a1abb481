"""OCR of scanned PDFs with the real Tesseract (Debian's spa/eng data, through tesserocr)
inside the sandboxed parser, and through the real engine: an image-only PDF made from real
Spanish pages is read, and a sentence from its page 3 is cited as page 3."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from debian_docs import pdf_and_twin, word_f1

from rag import sandbox
from rag.errors import NoTextError
from rag.loaders import load_bytes, ocr
from rag.service import RagService
from rag.settings import load_settings
from tests.pdf_factory import make_pdf

SCAN_DPI = 150  # a plain office scan
SOURCE_PAGES = (12, 13, 14)  # maint-guide-es: 2 Primeros pasos, 2.1, 2.2 (1-based)
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
    assert any("read by OCR" in w for w in report.warnings)
    ocr_steps = [(s.done, s.total) for s in steps if s.stage == "ocr"]
    assert ocr_steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
    top = service.search(PAGE_3_SENTENCE, k=1)[0]
    assert top.page == 3, top
    assert top.citation == "escaneo.pdf, p. 3 · 2.2 Elige el programa"
    text = "\n".join(c.text for c in service.library.chunks_of("escaneo.pdf") if c.page == 3)
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
