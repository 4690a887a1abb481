"""Word (.docx) text with its heading path; tables become one "Header: value" line per row.
Zip bombs and XML with DTDs (billion laughs) are refused before python-docx parses."""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from rag.errors import CorruptFileError, DocumentError, FileTooLargeError
from rag.loaders.common import DAMAGED, limits, log_failure, too_much_text
from rag.loaders.docx_text import alt_chunk_text, cell_text, paragraph_text, text_boxes
from rag.schema import Section

log = logging.getLogger(__name__)

_HEADING_STYLE = re.compile(r"^(?:heading|t[ií]tulo|encabezado)\s*([1-9])$", re.IGNORECASE)
_XML_BOMBS = [m.encode(enc) for m in ("<!DOCTYPE", "<!ENTITY")
              for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")]
BOMB_MIN_BYTES = 16 * 2**20  # an XML part at least this big...
BOMB_RATIO = 100  # ...packed tighter than this is refused
_CONTENT_TYPES = "[Content_Types].xml"
_DOCUMENT_TYPE = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
# Macro-enabled documents and templates hold the same text; python-docx accepts only the
# plain document type, so theirs is renamed in memory (macros are never run, only skipped).
_OTHER_WORD_TYPES = (b"application/vnd.ms-word.document.macroEnabled.main+xml",
                     b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
                     b"application/vnd.openxmlformats-officedocument.wordprocessingml."
                     b"template.main+xml")


def _damaged_docx_errors() -> tuple[type[BaseException], ...]:
    from docx.opc.exceptions import OpcError
    from lxml.etree import XMLSyntaxError

    return (OpcError, XMLSyntaxError, KeyError, ValueError, zipfile.BadZipFile, EOFError)


def _check_docx_zip(data: bytes, file_name: str) -> None:
    """Refuse zip bombs and XML with DTDs (billion laughs) before python-docx parses."""
    max_unzipped = limits().MAX_UNZIPPED_BYTES
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > 10_000 or sum(i.file_size for i in infos) > max_unzipped:
                raise FileTooLargeError(f"{file_name} unpacks to more than "
                                        f"{max_unzipped // 2**20} MB, the limit.",
                                        name=file_name, limit=max_unzipped)
            xml_parts = _xml_parts(zf, infos)
            for info in xml_parts:
                _check_ratio(info, file_name, len(data))
            for info in xml_parts:
                xml = zf.read(info)
                if any(marker in xml for marker in _XML_BOMBS):
                    raise CorruptFileError(f"{file_name} contains XML declarations "
                                           "(DOCTYPE/ENTITY) that Word never writes; it "
                                           "was refused as unsafe.", name=file_name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise CorruptFileError(DAMAGED.format(file_name), name=file_name) from exc


def _xml_parts(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """The parts an XML parser may read: by extension, by the content type that
    ``[Content_Types].xml`` gives them (any ``*/xml`` or ``*+xml``, whatever the part's
    name), and any part that starts like XML."""
    xml_extensions, xml_names = {"xml", "rels"}, set()
    types = next((i for i in infos if i.filename == "[Content_Types].xml"), None)
    if types is not None and types.file_size <= 4 * 2**20:
        raw = zf.read(types)
        if not any(marker in raw for marker in _XML_BOMBS):  # else refused below anyway
            from xml.etree import ElementTree

            try:
                for item in ElementTree.fromstring(raw):  # noqa: S314 (no DTD: checked above)
                    kind = (item.get("ContentType") or "").lower()
                    if kind.endswith(("/xml", "+xml")):
                        if item.get("Extension"):
                            xml_extensions.add(item.get("Extension", "").lower())
                        if item.get("PartName"):
                            xml_names.add(item.get("PartName", "").lstrip("/").lower())
            except ElementTree.ParseError:
                pass  # python-docx will call the file damaged
    parts = []
    for info in infos:
        if (info.filename.rpartition(".")[2].lower() in xml_extensions
                or info.filename.lower() in xml_names or _starts_like_xml(zf, info)):
            parts.append(info)
    return parts


def _starts_like_xml(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    if info.is_dir() or info.file_size == 0:
        return False
    with zf.open(info) as part:
        head = part.read(64)
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe",
                b"\xfe\xff"):
        head = head.removeprefix(bom)
    head = head.replace(b"\x00", b"").lstrip()
    return head.startswith(b"<")


def _check_ratio(info: zipfile.ZipInfo, file_name: str, size: int) -> None:
    """Word's XML deflates about 10:1; a large part packed far tighter is a zip bomb (its
    declared size is what zipfile will inflate at most, so it cannot lie upwards)."""
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > BOMB_MIN_BYTES and ratio > BOMB_RATIO:
        raise FileTooLargeError(
            f"{file_name} unpacks to {info.file_size / 2**20:,.0f} MB of XML from a "
            f"{size / 2**10:,.0f} KB file (packed {ratio:,.0f} to 1, which Word never does); "
            "it was refused as a likely zip bomb.",
            name=file_name, unpacked_mb=round(info.file_size / 2**20), ratio=round(ratio))


def _as_plain_document(data: bytes) -> bytes:
    """``data`` with a macro-enabled or template main part declared as a plain document."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        types = zf.read(_CONTENT_TYPES) if _CONTENT_TYPES in zf.namelist() else b""
        if not any(t in types for t in _OTHER_WORD_TYPES):
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in zf.infolist():
                part = zf.read(info)
                if info.filename == _CONTENT_TYPES:
                    for other in _OTHER_WORD_TYPES:
                        part = part.replace(other, _DOCUMENT_TYPE)
                target.writestr(info, part)
    return out.getvalue()


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
                cells.append(cell_text(cell._tc))
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
        elif child.tag == qn("w:altChunk"):
            yield child
        elif child.tag == qn("w:sdt"):
            for content in child.iterchildren(qn("w:sdtContent")):
                yield from _body_blocks(content, parent)
        elif child.tag in (qn("w:customXml"), qn("w:ins"), qn("w:moveTo")):
            yield from _body_blocks(child, parent)


def _configure_python_docx() -> None:
    """Let python-docx read deeply nested documents (tables in tables in tables...): past
    256 levels libxml2 otherwise stops as if the file were damaged. Safe here: DTDs were
    refused, entities are not resolved, and the sandbox bounds memory and time. And keep
    altChunk parts as raw bytes: one holding a whole .docx has the main document's content
    type, and python-docx would parse its zip bytes as XML and call the file damaged."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.opc.part import Part, PartFactory
    from docx.oxml import parser
    from lxml import etree

    huge = etree.XMLParser(remove_blank_text=True, resolve_entities=False, huge_tree=True)
    huge.set_element_class_lookup(parser.element_class_lookup)
    parser.oxml_parser = huge
    PartFactory.part_class_selector = staticmethod(  # type: ignore[assignment]
        lambda _type, reltype: Part if reltype == RELATIONSHIP_TYPE.A_F_CHUNK else None)


def load_docx(data: bytes, file_name: str,
              depth: int = 0) -> tuple[list[Section], int, list[str]]:
    """Sections per heading. ``depth``: how deep inside other documents' altChunk parts
    this one is."""
    _check_docx_zip(data, file_name)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _configure_python_docx()
    sections: list[Section] = []
    path: list[tuple[int, str]] = []  # the open headings: (level, text)
    blocks: list[str] = []
    warnings: list[str] = []

    def flush() -> None:
        text = "\n\n".join(b for b in blocks if b)
        if text.strip():
            sections.append(Section(text.strip(), heading=" > ".join(t for _, t in path)))
        blocks.clear()

    damaged_errors = _damaged_docx_errors()
    try:
        document = docx.Document(io.BytesIO(_as_plain_document(data)))
        cache: dict[str, int | None] = {}
        total, max_chars = 0, limits().MAX_CHARS
        for block in _body_blocks(document.element.body, document._body):
            new: list[str] = []
            if isinstance(block, Table):
                new.append("\n".join(_table_lines(block)))
            elif not isinstance(block, Paragraph):  # w:altChunk
                try:
                    new += alt_chunk_text(block, document.part, file_name, depth)
                except ValueError as exc:
                    warnings.append(str(exc))
            else:
                text = paragraph_text(block._p).strip()
                level = _heading_level(block, cache) if text else None
                if level is not None:
                    flush()
                    while path and path[-1][0] >= level:
                        path.pop()
                    path.append((level, re.sub(r"\s+", " ", text)))
                else:
                    new.append(text)
                new += text_boxes(block._p)
            blocks += new
            total += sum(map(len, new))
            if total > max_chars:
                raise too_much_text(file_name)
        flush()
    except DocumentError:
        raise
    except Exception as exc:  # any parser failure means "unreadable" to the user
        log_failure(log, f"python-docx cannot read {file_name}", exc, damaged_errors)
        raise CorruptFileError(DAMAGED.format(file_name), name=file_name) from exc
    return sections, len(sections), warnings


