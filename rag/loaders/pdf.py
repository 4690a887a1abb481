"""PDF text, page by page: pypdfium2 first (fast, good layout), pypdf as the fallback for
files or pages pdfium cannot read. Damaged, encrypted and image-only files get their own
messages."""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from rag.errors import (
    CorruptFileError,
    EncryptedFileError,
    FileTooLargeError,
    NoTextError,
    OcrFoundNothingError,
    XfaFormError,
)
from rag.loaders.common import (
    DAMAGED,
    PROTECTED,
    ParseOptions,
    limits,
    log_failure,
    too_much_text,
)
from rag.loaders.pdf_contents import drop_leader_blocks, toc_pages
from rag.loaders.pdf_forms import form_lines
from rag.loaders.pdf_layout import (
    PageLines,
    clean_pdf_text,
    pdfium_lines,
    plain_lines,
    running_lines,
    without,
)
from rag.loaders.pdf_ocr import OcrOutcome, ocr_missing
from rag.loaders.pdf_sections import (
    OutlineEntry,
    outline_headings,
    read_outline,
    split_sections,
    text_headings,
)
from rag.schema import Section

log = logging.getLogger(__name__)

_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe


def _pypdf_errors() -> tuple[type[BaseException], ...]:
    """What pypdf raises on a damaged file (recursion: a self-referencing object)."""
    from pypdf.errors import PyPdfError

    return (PyPdfError, RecursionError, ValueError, KeyError, EOFError, OSError)


def _xfa_form(data: bytes) -> bool:
    """Whether the PDF is an XFA form (Adobe LiveCycle), whose content is not page text."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return False
        try:
            return pdfium_c.FPDF_GetFormType(pdf.raw) in (pdfium_c.FORMTYPE_XFA_FULL,
                                                        pdfium_c.FORMTYPE_XFA_FOREGROUND)
        finally:
            pdf.close()


def _pypdf_reader(data: bytes, file_name: str) -> Any:
    """A pypdf reader opened with the empty password, or None when pypdf cannot read it."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        decrypted = not reader.is_encrypted or reader.decrypt("")
        _ = len(reader.pages)
    except Exception as exc:
        log_failure(log, f"pypdf cannot read {file_name}", exc, _pypdf_errors())
        return None
    if not decrypted:
        raise EncryptedFileError(PROTECTED.format(file_name), name=file_name)
    return reader


def _open_pdf(data: bytes, file_name: str) -> tuple[Any, Any]:
    """(pdfium document, None), or (None, pypdf reader) when only pypdf can open the file."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedFileError(PROTECTED.format(file_name), name=file_name) from exc
        reader = _pypdf_reader(data, file_name)
        if reader is None or not len(reader.pages):
            raise CorruptFileError(DAMAGED.format(file_name), name=file_name) from exc
        log.warning("pdfium cannot open %s (%s); using pypdf", file_name, exc)
        return None, reader
    try:  # before any page is loaded: filled-in form fields are read with the text
        pdf.init_forms()
    except pdfium.PdfiumError as exc:
        log.warning("the form of %s cannot be read (%s): its field values are left out",
                    file_name, exc)
    return pdf, None


def _pdfium_page(pdf: Any, index: int) -> tuple[PageLines | None, bool]:
    """(lines, blank page?) of one page; (None, False) if pdfium fails on it."""
    import pypdfium2.raw as pdfium_c

    try:
        page = pdf[index]
        textpage = page.get_textpage()
        lines = pdfium_lines(textpage) + form_lines(pdf, page)
        height = float(page.get_height())
        blank = pdfium_c.FPDFPage_CountObjects(page.raw) == 0
        textpage.close()
        page.close()
        return PageLines(lines, height), blank
    except Exception as exc:
        from pypdfium2 import PdfiumError

        log_failure(log, f"pdfium failed on page {index + 1}", exc, (PdfiumError,))
        return None, False


def _pypdf_text(reader: Any, index: int) -> str | None:
    try:
        return reader.pages[index].extract_text() or "" if reader is not None else None
    except Exception as exc:
        log_failure(log, f"pypdf failed on page {index + 1}", exc, _pypdf_errors())
        return None


@dataclass
class PdfText:
    """A PDF read by :func:`read_pdf`."""

    sections: list[Section]
    pages: int
    warnings: list[str]
    ocr_pages: list[int] = field(default_factory=list)  # 1-based
    ocr_confidence: float = 0.0


def load_pdf(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    """The :data:`~rag.loaders.Loader` interface of :func:`read_pdf` (default options)."""
    done = read_pdf(data, file_name)
    return done.sections, done.pages, done.warnings


def read_pdf(data: bytes, file_name: str, options: ParseOptions | None = None) -> PdfText:
    """One section per run of body text under one heading path on one page, without
    running headers, page numbers or table-of-contents pages (see :mod:`.pdf_layout` and
    :mod:`.pdf_contents`); pages without a text layer are OCR'd (see :mod:`.pdf_ocr`)."""
    options = options or ParseOptions()
    pages, outline, n_pages, warnings, silent, ocr = _read_pages(data, file_name, options)
    texts = [p.text() if p is not None else "" for p in pages]
    if not any(t.strip() for t in texts) and _xfa_form(data):
        raise XfaFormError(f"{file_name} is an XFA form (Adobe LiveCycle): its content is "
                           "not page text. Open it in Adobe Reader, print it to a PDF and "
                           "upload that.", name=file_name)
    if not any(t.strip() for t in texts) and ocr is not None:
        raise OcrFoundNothingError(f"{file_name} has no text layer, and OCR found no text on "
                                   "its pages (blank or unreadable scans?).", name=file_name)
    if not any(t.strip() for t in texts):
        raise NoTextError(f"{file_name} has no text layer (scanned images?): OCR is not "
                          "supported.", name=file_name)
    unread = {i + 1 for i in ocr.unread} if ocr is not None else set()  # said below
    empty = [i + 1 for i, t in enumerate(texts)
             if not t.strip() and i + 1 not in silent and i + 1 not in unread]
    if len(empty) <= 5:
        warnings += [f"page {p} has no text (scanned?)" for p in empty]
    else:
        shown = ", ".join(map(str, empty[:10])) + (", ..." if len(empty) > 10 else "")
        warnings.append(f"{len(empty)} pages have no text (scanned?): pages {shown}")
    warnings += ocr.warnings if ocr is not None else []
    sections = layout_sections([p or PageLines([]) for p in pages], outline)
    if ocr is None or not ocr.found:
        return PdfText(sections, n_pages, warnings)
    return PdfText(sections, n_pages, warnings, sorted(i + 1 for i in ocr.found),
                   round(ocr.confidence, 1))


def layout_sections(pages: list[PageLines], outline: list[OutlineEntry]) -> list[Section]:
    """The pages' body text as sections: running lines and contents pages left out, split
    at the headings (from the outline when it places any, else from the text)."""
    for page, gone in zip(pages, running_lines(pages), strict=True):
        page.lines = without(page.lines, gone)
    contents = toc_pages(pages, [e.title for e in outline])
    if contents and len(contents) < sum(bool(p.lines) for p in pages):
        log.info("table of contents on pages %s: not indexed", sorted(i + 1 for i in contents))
        for i in contents:
            pages[i].lines = []
    for page in pages:
        page.lines = drop_leader_blocks(page.lines)
    headings = outline_headings(pages, outline) if outline else []
    if not any(h.lines for h in headings):
        headings = text_headings(pages)
    return [Section(clean_pdf_text(text), page=number, heading=heading)
            for text, number, heading in split_sections(pages, headings,
                                                        list(range(1, len(pages) + 1)))]


def _read_pages(data: bytes, file_name: str, options: ParseOptions):
    """(pages' lines or None, outline, page count, warnings, pages with nothing on them,
    what OCR did, if it ran)."""
    import pypdfium2.raw as pdfium_c

    warnings: list[str] = []
    pages: list[PageLines | None] = []
    silent: set[int] = set()  # pages with nothing at all on them: no "scanned?" warning
    unreadable = 0  # pages neither reader could open
    max_pages, max_chars = limits().MAX_PAGES, limits().MAX_CHARS
    outline: list[OutlineEntry] = []
    ocr: OcrOutcome | None = None
    with _PDFIUM_LOCK:
        pdf, reader = _open_pdf(data, file_name)
        try:
            n_pages = len(pdf) if pdf is not None else len(reader.pages)
            if reader is not None:
                warnings.append("the PDF is damaged: its text was read with a fallback reader")
            elif not pdfium_c.FPDF_DocumentHasValidCrossReferenceTable(pdf.raw):
                warnings.append("the PDF was damaged and has been repaired: text may be missing")
            if n_pages > max_pages:
                raise FileTooLargeError(f"{file_name} has {n_pages:,} pages; the limit is "
                                        f"{max_pages:,}.", name=file_name, limit=max_pages)
            total = 0
            tried_pypdf = reader is not None
            for i in range(n_pages):
                page, blank = _pdfium_page(pdf, i) if pdf is not None else (None, False)
                if page is None:
                    if not tried_pypdf:
                        reader, tried_pypdf = _pypdf_reader(data, file_name), True
                    text = _pypdf_text(reader, i)
                    if text is None or pdf is not None:
                        warnings.append(f"page {i + 1} could not be read" if text is None
                                        else f"page {i + 1} was read with a fallback extractor")
                    page = PageLines(plain_lines(clean_pdf_text(text))) if text else None
                    silent.update([i + 1] if text is None else [])
                    unreadable += text is None
                silent.update([i + 1] if blank else [])
                pages.append(page)
                total += sum(len(ln.text) + 1 for ln in page.lines) if page else 0
                if total > max_chars:
                    raise too_much_text(file_name)
            if pdf is not None:
                outline = read_outline(pdf)
                ocr = ocr_missing(pdf, pages, silent, options)
        finally:
            if pdf is not None:
                pdf.close()
    if n_pages and unreadable == n_pages:  # e.g. a cycle in the page tree
        raise CorruptFileError(DAMAGED.format(file_name), name=file_name)
    return pages, outline, n_pages, warnings, silent, ocr
