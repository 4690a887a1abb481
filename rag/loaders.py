"""Turn uploaded bytes into text sections: PDF (pypdfium2, pypdf as fallback), DOCX
(python-docx), plain text and Markdown. The real type is checked from the content, and every
failure is a :class:`~rag.errors.DocumentError` whose message says what to do."""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import logging
import os
import re
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.errors import (
    CorruptFileError,
    DocumentError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    InvalidNameError,
    NoTextError,
    UnsupportedFileError,
)
from rag.schema import LoadedDocument, Section

log = logging.getLogger(__name__)

Loader = Callable[[bytes, str], tuple[list[Section], int, list[str]]]
SUPPORTED_EXTENSIONS = (".pdf", ".docx", ".txt", ".md")
MAX_PAGES = 5000
MAX_CHARS = 20_000_000
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_NAME_CHARS = 120

_KIND_OF_EXT = {".pdf": "pdf", ".docx": "docx", ".txt": "txt", ".md": "md", ".markdown": "md"}
_CONTENT_WORDS = {
    "pdf": "a PDF", "docx": "a Word document (.docx)", "text": "plain text",
    "xlsx": "an Excel workbook (.xlsx)", "pptx": "a PowerPoint presentation (.pptx)",
    "odt": "an OpenDocument text (.odt)", "doc": "an old-format Word document (.doc)",
    "zip": "a zip archive",
}
_RENAME_TO = {"pdf": ".pdf", "docx": ".docx", "text": ".txt"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc, and password-protected .docx
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27}) + b"\x7f"
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe
_DAMAGED = "{} is damaged or incomplete and could not be read."
_PROTECTED = "{} is password-protected: remove the password and upload it again."


def safe_file_name(name: str) -> str:
    """A display/storage name: the basename, no control characters, at most 120 chars."""
    text = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in re.sub(r"\s+", " ", re.sub(r"^[A-Za-z]:", "", text))
                   if not unicodedata.category(c).startswith("C"))
    text = re.sub(r'[<>:"|?*]', "_", re.sub(" +", " ", text)).strip().rstrip(". ")
    if len(text) > MAX_NAME_CHARS:
        ext = _extension(text)
        ext = text[-len(ext):] if 1 < len(ext) <= 10 else ""
        text = text[: MAX_NAME_CHARS - len(ext)].rstrip(". ") + ext
    if not text.strip(". "):
        raise InvalidNameError(f"{name!r} is not a usable file name.", name=str(name))
    return text


def _extension(file_name: str) -> str:
    stem, dot, ext = file_name.rpartition(".")
    return ("." + ext.lower()) if dot and stem else ""


def _sniff(data: bytes) -> str:
    """What the bytes are: pdf, docx, xlsx, pptx, odt, zip, badzip, doc, ole, text, binary."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
                mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return "badzip"
        for part, kind in (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"),
                           ("ppt/presentation.xml", "pptx")):
            if part in names:
                return kind
        return "odt" if mimetype.endswith(b"opendocument.text") else "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole" if "EncryptedPackage".encode("utf-16-le") in data else "doc"
    sample = data[:65536]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        sample = sample.decode("utf-16", errors="ignore").encode("utf-8")
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    binary = sample.count(0) > max(1, len(sample) // 200) or controls > max(2, len(sample) // 100)
    return "binary" if binary else "text"


def detect_kind(data: bytes, file_name: str) -> str:
    """'pdf' | 'docx' | 'txt' | 'md': the extension's kind, checked against the content."""
    ext = _extension(file_name)
    expected = _KIND_OF_EXT.get(ext)
    if expected is None:
        what = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileError(f"{file_name}: unsupported file type {what}. Upload .pdf, "
                                   ".docx, .txt or .md files.", name=file_name, extension=ext)
    if not data or data.isspace():
        raise EmptyFileError(f"{file_name} is empty.", name=file_name)
    actual = _sniff(data)
    if actual == "ole":
        raise EncryptedFileError(_PROTECTED.format(file_name), name=file_name)
    wanted = "text" if expected in ("txt", "md") else expected
    if actual == wanted:
        return expected
    if wanted == "text" and actual not in ("pdf", "docx"):
        raise UnsupportedFileError(f"{file_name} looks like binary data, not text.",
                                   name=file_name, actual=actual)
    if actual not in _CONTENT_WORDS:
        raise CorruptFileError(_DAMAGED.format(file_name), name=file_name)
    label = {"pdf": "a PDF", "docx": "a Word document", "text": "text"}[wanted]
    message = f"{file_name} is not {label}: its content is {_CONTENT_WORDS[actual]}."
    if actual in _RENAME_TO:
        message += f" Rename it to {_RENAME_TO[actual]} and upload it again."
    elif actual == "doc":
        message += " Save it as .docx and upload it again."
    raise UnsupportedFileError(message, name=file_name, actual=actual)


def _too_much_text(file_name: str) -> FileTooLargeError:
    return FileTooLargeError(f"{file_name} has more than {MAX_CHARS:,} characters of text, "
                             "the limit.", name=file_name, limit=MAX_CHARS)


# ----------------------------------------------------------------------------------------- PDF
def clean_pdf_text(text: str) -> str:
    """Normalize extracted page text: line ends, NULs, hyphenation; keeps blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # pdfium marks a word hyphenated at a line end with U+FFFE and drops the line break.
    text = re.sub("\ufffe\\s*(?=(.?))", lambda m: "" if m.group(1).islower() else "-", text)
    text = text.replace("\u00ad\n", "").replace("\u00ad", "")
    text = re.sub(r"([^\s-])-\n[ \t]*(\w)",
                  lambda m: m.group(1) + m.group(2) if m.group(2).islower() else m.group(0), text)
    text = re.sub(r"[ \t]+\n", "\n", _CONTROL_CHARS.sub("", text))
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


def _pypdf_reader(data: bytes, file_name: str) -> Any:
    """A pypdf reader opened with the empty password, or None when pypdf cannot read it."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        decrypted = not reader.is_encrypted or reader.decrypt("")
        _ = len(reader.pages)
    except Exception as exc:
        log.info("pypdf cannot read %s: %s", file_name, exc, exc_info=True)
        return None
    if not decrypted:
        raise EncryptedFileError(_PROTECTED.format(file_name), name=file_name)
    return reader


def _open_pdf(data: bytes, file_name: str) -> tuple[Any, Any]:
    """(pdfium document, None), or (None, pypdf reader) when only pypdf can open the file."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(data), None
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedFileError(_PROTECTED.format(file_name), name=file_name) from exc
        reader = _pypdf_reader(data, file_name)
        if reader is None or not len(reader.pages):
            raise CorruptFileError(_DAMAGED.format(file_name), name=file_name) from exc
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
        log.info("pdfium failed on page %d: %s", index + 1, exc, exc_info=True)
        return None, False


def _pypdf_text(reader: Any, index: int) -> str | None:
    try:
        return reader.pages[index].extract_text() or "" if reader is not None else None
    except Exception as exc:
        log.info("pypdf failed on page %d: %s", index + 1, exc, exc_info=True)
        return None


def load_pdf(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    import pypdfium2.raw as pdfium_c

    warnings: list[str] = []
    texts: list[str] = []
    silent: set[int] = set()  # pages with nothing at all on them: no "scanned?" warning
    with _PDFIUM_LOCK:
        pdf, reader = _open_pdf(data, file_name)
        try:
            n_pages = len(pdf) if pdf is not None else len(reader.pages)
            if reader is not None:
                warnings.append("the PDF is damaged: its text was read with a fallback reader")
            elif not pdfium_c.FPDF_DocumentHasValidCrossReferenceTable(pdf.raw):
                warnings.append("the PDF was damaged and has been repaired: text may be missing")
            if n_pages > MAX_PAGES:
                raise FileTooLargeError(f"{file_name} has {n_pages:,} pages; the limit is "
                                        f"{MAX_PAGES:,}.", name=file_name, limit=MAX_PAGES)
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
                total += len(texts[-1])
                if total > MAX_CHARS:
                    raise _too_much_text(file_name)
        finally:
            if pdf is not None:
                pdf.close()
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


# ---------------------------------------------------------------------------------------- DOCX
_HEADING_STYLE = re.compile(r"^(?:heading|t[ií]tulo|encabezado)\s*([1-9])$", re.IGNORECASE)
_XML_BOMBS = [m.encode(enc) for m in ("<!DOCTYPE", "<!ENTITY")
              for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def _check_docx_zip(data: bytes, file_name: str) -> None:
    """Refuse zip bombs and XML with DTDs (billion laughs) before python-docx parses."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > 10_000 or sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
                raise FileTooLargeError(f"{file_name} unpacks to more than "
                                        f"{MAX_UNZIPPED_BYTES // 2**20} MB, the limit.",
                                        name=file_name, limit=MAX_UNZIPPED_BYTES)
            for info in infos:
                if info.filename.endswith((".xml", ".rels")):
                    xml = zf.read(info)
                    if any(marker in xml for marker in _XML_BOMBS):
                        raise CorruptFileError(f"{file_name} contains XML declarations "
                                               "(DOCTYPE/ENTITY) that Word never writes; it "
                                               "was refused as unsafe.", name=file_name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise CorruptFileError(_DAMAGED.format(file_name), name=file_name) from exc


def _outline_level(element: Any) -> int | None:
    value = element.xpath("./w:pPr/w:outlineLvl/@w:val")
    return int(value[0]) + 1 if value and value[0].isdigit() and int(value[0]) < 9 else None


def _heading_level(paragraph: Any, cache: dict[str, int | None]) -> int | None:
    """From the paragraph's outline level, its style's name, or its styles' outline level."""
    level = _outline_level(paragraph._p)
    style_id = paragraph._p.style or ""
    if level is None and style_id not in cache:
        style = paragraph.style
        m = _HEADING_STYLE.match((style.name or "").strip()) if style is not None else None
        found = int(m.group(1)) if m else None
        while found is None and style is not None:
            found, style = _outline_level(style.element), style.base_style
        cache[style_id] = found
    return level if level is not None else cache[style_id]


def _table_lines(table: Any) -> list[str]:
    """One line per data row: 'Header1: value1 | Header2: value2' (first row = header)."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:  # a merged cell repeats: keep it once per row
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(re.sub(r"\s+", " ", cell.text).strip())
        if any(cells):
            rows.append(cells)
    if len(rows) < 2:
        return [" | ".join(c for c in row if c) for row in rows]
    header = rows[0]
    return [" | ".join(f"{header[j]}: {v}" if j < len(header) and header[j] else v
                       for j, v in enumerate(row) if v) for row in rows[1:]]


def _body_blocks(element: Any, parent: Any) -> Iterator[Any]:
    """Paragraphs and tables in document order, including those inside content controls."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in element.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent)
        elif child.tag == qn("w:tbl"):
            yield Table(child, parent)
        elif child.tag == qn("w:sdt"):
            for content in child.iterchildren(qn("w:sdtContent")):
                yield from _body_blocks(content, parent)


def load_docx(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    _check_docx_zip(data, file_name)
    import docx
    from docx.table import Table

    sections: list[Section] = []
    path: list[tuple[int, str]] = []  # the open headings: (level, text)
    blocks: list[str] = []

    def flush() -> None:
        text = "\n\n".join(b for b in blocks if b)
        if text.strip():
            sections.append(Section(text.strip(), heading=" > ".join(t for _, t in path)))
        blocks.clear()

    try:
        document = docx.Document(io.BytesIO(data))
        cache: dict[str, int | None] = {}
        total = 0
        for block in _body_blocks(document.element.body, document._body):
            if isinstance(block, Table):
                blocks.append("\n".join(_table_lines(block)))
            else:
                text = block.text.strip()
                level = _heading_level(block, cache) if text else None
                if level is not None:
                    flush()
                    while path and path[-1][0] >= level:
                        path.pop()
                    path.append((level, re.sub(r"\s+", " ", text)))
                    continue
                blocks.append(text)
            total += len(blocks[-1])
            if total > MAX_CHARS:
                raise _too_much_text(file_name)
        flush()
    except DocumentError:
        raise
    except Exception as exc:  # any parser failure means "unreadable"
        log.info("python-docx cannot read %s: %s", file_name, exc)
        raise CorruptFileError(_DAMAGED.format(file_name), name=file_name) from exc
    return sections, len(sections), []


# ----------------------------------------------------------------------------- text, Markdown
_BOMS = ((codecs.BOM_UTF8, "utf-8", ""), (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
         (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"))


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding label); the label is '' for UTF-8. BOM, then UTF-8, then
    Windows-1252 (Spanish files from Windows), then Latin-1, which never fails."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace"), label
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        if sum(ord(c) > 127 for c in text) - bad >= 20 * bad:  # UTF-8 with a few bad bytes
            return text, f"UTF-8 with {bad} invalid byte(s) replaced"
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1 (ISO-8859-1)"


def _clean_plain(text: str) -> str:
    text = _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()


def _decoded(data: bytes, file_name: str) -> tuple[str, list[str]]:
    text, label = decode_text(data)
    if len(text) > MAX_CHARS:
        raise _too_much_text(file_name)
    if not text.replace("\x00", "").strip():
        raise EmptyFileError(f"{file_name} is empty.", name=file_name)
    return text, [f"not UTF-8: decoded as {label}"] if label else []


def load_txt(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    """One section per form-feed-separated part."""
    text, warnings = _decoded(data, file_name)
    sections = [Section(part) for part in map(_clean_plain, text.split("\f")) if part]
    return sections, len(sections), warnings


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def load_md(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    """One section per ATX heading (outside fenced code), with its heading path."""
    text, warnings = _decoded(data, file_name)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""

    def flush() -> None:
        body = _clean_plain("\n".join(lines))
        if body:
            sections.append(Section(body, heading=" > ".join(t for _, t in path)))
        lines.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        m = _FENCE.match(line)
        if m and not fence:
            fence = m.group(1)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not m.group(2).strip():
            fence = ""
        elif not fence and (h := _ATX.match(line)) and (h.group(2) or "").strip():
            flush()
            while path and path[-1][0] >= len(h.group(1)):
                path.pop()
            path.append((len(h.group(1)), h.group(2).strip()))
            continue
        lines.append(line)
    flush()
    return sections, len(sections), warnings


# -------------------------------------------------------------------------------- entry points
LOADERS: dict[str, Loader] = {"pdf": load_pdf, "docx": load_docx, "txt": load_txt, "md": load_md}


def load_bytes(data: bytes, file_name: str) -> LoadedDocument:
    """Check, parse and clean one uploaded file; raises a DocumentError subclass."""
    name = safe_file_name(file_name)
    kind = detect_kind(data, name)
    sections, pages, warnings = LOADERS[kind](data, name)
    sections = [Section(s.text.strip(), s.page, s.heading) for s in sections if s.text.strip()]
    if not sections:
        raise NoTextError(f"{name} contains no text.", name=name)
    return LoadedDocument(file_name=name, kind=kind, sections=sections,
                          content_hash=hashlib.sha256(data).hexdigest(), pages=pages,
                          warnings=warnings)


def load_file(path: str | os.PathLike[str], display_name: str | None = None) -> LoadedDocument:
    """Load a file from disk; ``display_name`` (e.g. the uploaded name) replaces its name."""
    path = Path(path)
    return load_bytes(path.read_bytes(), display_name or path.name)
