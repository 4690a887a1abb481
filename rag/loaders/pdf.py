"""PDF text, page by page: pypdfium2 first (fast, good layout), pypdf as the fallback for
files or pages pdfium cannot read. Damaged, encrypted and image-only files get their own
messages."""

from __future__ import annotations

import io
import itertools
import logging
import re
import threading
from typing import Any

from rag.errors import (
    CorruptFileError,
    EncryptedFileError,
    FileTooLargeError,
    NoTextError,
    XfaFormError,
)
from rag.loaders.common import CONTROL_CHARS, DAMAGED, PROTECTED, limits, log_failure, too_much_text
from rag.schema import Section

log = logging.getLogger(__name__)

_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe


def clean_pdf_text(text: str) -> str:
    """Normalize extracted page text: line ends, NULs, hyphenation; keeps blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # pdfium marks a word hyphenated at a line end with U+FFFE and drops the line break.
    text = re.sub("\ufffe\\s*(?=(.?))", lambda m: "" if m.group(1).islower() else "-", text)
    text = text.replace("\u00ad\n", "").replace("\u00ad", "")
    text = re.sub(r"([^\s-])-\n[ \t]*(\w)",
                  lambda m: m.group(1) + m.group(2) if m.group(2).islower() else m.group(0), text)
    text = re.sub(r"[ \t]+\n", "\n", CONTROL_CHARS.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _pdfium_page_text(textpage: Any) -> str:
    """The page's text with a blank line wherever the gap between two lines is clearly larger
    than the page's usual line pitch: pdfium itself only gives line breaks."""
    text: str = textpage.get_text_range()
    if len(text) != textpage.count_chars():
        return text
    lines: list[tuple[str, float, float, float]] = []  # (line, first bottom, last bottom, height)
    for m in re.finditer(r"[^\r\n]+", text):
        line = m.group()
        first, last = len(line) - len(line.lstrip()), len(line.rstrip()) - 1
        if last >= first:
            _, bottom, _, top = textpage.get_charbox(m.start() + first, loose=True)
            last_bottom = textpage.get_charbox(m.start() + last, loose=True)[1]
            lines.append((line, bottom, last_bottom, top - bottom))
    if len(lines) < 3:
        return "\n".join(line[0] for line in lines)
    gaps = [a[2] - b[1] for a, b in itertools.pairwise(lines)]
    usual = sorted(g for g, b in zip(gaps, lines[1:], strict=False) if 0.5 * b[3] <= g <= 3 * b[3])
    pitch = usual[len(usual) // 4] if usual else 0.0
    out = [lines[0][0]]
    for gap, (line, _, _, height) in zip(gaps, lines[1:], strict=False):
        new_paragraph = (pitch and gap > pitch * 1.3) or gap < -height
        out.append(("\n\n" if new_paragraph else "\n") + line)
    return "".join(out)


def _pypdf_errors() -> tuple[type[BaseException], ...]:
    """What pypdf raises on a damaged file (recursion: a self-referencing object)."""
    from pypdf.errors import PyPdfError

    return (PyPdfError, RecursionError, ValueError, KeyError, EOFError, OSError)


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
        return pdfium.PdfDocument(data), None
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedFileError(PROTECTED.format(file_name), name=file_name) from exc
        reader = _pypdf_reader(data, file_name)
        if reader is None or not len(reader.pages):
            raise CorruptFileError(DAMAGED.format(file_name), name=file_name) from exc
        log.warning("pdfium cannot open %s (%s); using pypdf", file_name, exc)
        return None, reader


def _pdfium_text(pdf: Any, index: int) -> tuple[str | None, bool]:
    """(text, blank page?) of one page; (None, False) if pdfium fails on it."""
    import pypdfium2.raw as pdfium_c

    try:
        page = pdf[index]
        textpage = page.get_textpage()
        text = _pdfium_page_text(textpage)
        blank = pdfium_c.FPDFPage_CountObjects(page.raw) == 0
        textpage.close()
        page.close()
        return text, blank
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


def load_pdf(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    import pypdfium2.raw as pdfium_c

    warnings: list[str] = []
    texts: list[str] = []
    silent: set[int] = set()  # pages with nothing at all on them: no "scanned?" warning
    unreadable = 0  # pages neither reader could open
    max_pages, max_chars = limits().MAX_PAGES, limits().MAX_CHARS
    with _PDFIUM_LOCK:
        pdf, reader = _open_pdf(data, file_name)
        try:
            n_pages = len(pdf) if pdf is not None else len(reader.pages)
            form_type = pdfium_c.FPDF_GetFormType(pdf.raw) if pdf is not None else -1
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
                text, blank = _pdfium_text(pdf, i) if pdf is not None else (None, False)
                if text is None:
                    if not tried_pypdf:
                        reader, tried_pypdf = _pypdf_reader(data, file_name), True
                    text = _pypdf_text(reader, i)
                    if text is None or pdf is not None:
                        warnings.append(f"page {i + 1} could not be read" if text is None
                                        else f"page {i + 1} was read with a fallback extractor")
                texts.append(clean_pdf_text(text or ""))
                silent.update([i + 1] if blank or text is None else [])
                unreadable += text is None
                total += len(texts[-1])
                if total > max_chars:
                    raise too_much_text(file_name)
        finally:
            if pdf is not None:
                pdf.close()
    if n_pages and unreadable == n_pages:  # e.g. a cycle in the page tree
        raise CorruptFileError(DAMAGED.format(file_name), name=file_name)
    if not any(texts) and form_type in (pdfium_c.FORMTYPE_XFA_FULL,
                                        pdfium_c.FORMTYPE_XFA_FOREGROUND):
        raise XfaFormError(f"{file_name} is an XFA form (Adobe LiveCycle): its content is "
                           "not page text. Open it in Adobe Reader, print it to a PDF and "
                           "upload that.", name=file_name)
    if not any(texts):
        raise NoTextError(f"{file_name} has no text layer (scanned images?): OCR is not "
                          "supported.", name=file_name)
    empty = [i + 1 for i, t in enumerate(texts) if not t and i + 1 not in silent]
    if len(empty) <= 5:
        warnings += [f"page {p} has no text (scanned?)" for p in empty]
    else:
        shown = ", ".join(map(str, empty[:10])) + (", ..." if len(empty) > 10 else "")
        warnings.append(f"{len(empty)} pages have no text (scanned?): pages {shown}")
    return [Section(t, page=i + 1) for i, t in enumerate(texts) if t], n_pages, warnings


