"""Hostile files built in memory, for the hostile-upload tests: PDFs that inflate to a
gigabyte, loop in their page tree or refer to themselves; .docx files that are zip bombs
or billion-laughs XML."""

from __future__ import annotations

import functools
import io
import zipfile
import zlib

from docx import Document

from tests.pdf_factory import pdf_from_objects

# ------------------------------------------------------------------------------ PDF builders
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_TEXT = b"<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 700 Td (Hello loop) Tj ET\nendstream"


def _page(parent: int, contents: int, font: int) -> bytes:
    return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (parent, font, contents))


@functools.cache
def pdf_bomb(inflated: int = 1 << 30) -> bytes:
    """A ~1 MB PDF whose FlateDecode content stream inflates to ``inflated`` bytes of zeros.
    Built in a blink: after a full flush deflate restarts, so a compressed 1 MB block of zeros
    can be repeated; only the trailing Adler-32 has to be computed over the whole."""
    head = b"BT /F1 12 Tf 72 700 Td (boom) Tj ET\n"
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9)
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()[:-4]  # the final empty block, without the checksum
    adler = zlib.adler32(head)
    for _ in range(inflated >> 20):
        adler = zlib.adler32(zeros, adler)
    stream = start + block * (inflated >> 20) + end + adler.to_bytes(4, "big")
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        _FONT,
        _page(2, 5, 3),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
        + b"\nendstream",
    ])


def pdf_pages_cycle() -> bytes:
    """The page tree loops: Pages 2 -> Pages 3 -> Pages 2 (and the page itself)."""
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 2 >>",
        _page(3, 5, 6), _TEXT, _FONT,
    ])


def pdf_self_references() -> bytes:
    """Objects that refer to themselves: a Pages node among its own kids, a stream whose
    /Length is itself, and a form XObject that draws itself."""
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 6 0 R "
        b"/Contents 4 0 R >>",
        b"<< /Length 4 0 R >>\nstream\nBT /F1 12 Tf 72 700 Td (Hello loop) Tj ET /X1 Do\n"
        b"endstream",
        _FONT,
        b"<< /Font << /F1 5 0 R >> /XObject << /X1 7 0 R >> >>",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources 6 0 R /Length 7 >>\n"
        b"stream\n/X1 Do\nendstream",
    ])


# ----------------------------------------------------------------------------- DOCX builders
def docx_bytes(*paragraphs: str) -> bytes:
    """A plain .docx with these paragraphs."""
    doc = Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def docx_with_document_xml(write) -> bytes:
    """A real .docx whose word/document.xml is streamed by ``write(fh, head, tail)``."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes("x")))
    xml = source.read("word/document.xml")
    head, tail = xml.split(b"<w:body>")[0] + b"<w:body>", b"</w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in source.infolist():
            if info.filename == "word/document.xml":
                with dst.open("word/document.xml", "w") as fh:
                    write(fh, head, tail)
            else:
                dst.writestr(info.filename, source.read(info))
    return out.getvalue()


@functools.cache
def docx_zip_bomb() -> bytes:
    """~150 KB that unpack to 100 million characters of text (10,000 paragraphs)."""
    paragraph = b"<w:p><w:r><w:t>" + b"A" * 10_000 + b"</w:t></w:r></w:p>"

    def write(fh, head, tail):
        fh.write(head)
        for _ in range(10_000):
            fh.write(paragraph)
        fh.write(tail)

    return docx_with_document_xml(write)


def docx_billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)]
    dtd = ('<?xml version="1.0"?><!DOCTYPE lolz [' + "".join(entities) + "]>").encode()

    def write(fh, head, tail):
        fh.write(dtd + head.split(b"?>", 1)[1] + b"<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"
                 + tail)

    return docx_with_document_xml(write)
