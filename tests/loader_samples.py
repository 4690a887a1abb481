"""Sample documents for the loader tests (tests/test_loaders_*.py): the text of a
three-page PDF, and .docx files written with python-docx, rewritten inside their zip."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from docx import Document

PAGES = [
    "Primera página: información sobre el año fiscal.\nUna segunda línea.",
    "Second page about apples.\nThe word infor-\nmation is split.\n\nA new paragraph here.",
    "Third page, the last one.",
]


def make_docx(build: Callable) -> bytes:
    """The bytes of a new .docx that ``build(document)`` filled."""
    doc = Document()
    build(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def sample_docx(doc) -> None:
    """Headings on two levels, a table and text around them."""
    doc.add_paragraph("Preface text before any heading.")
    doc.add_heading("Installation", level=1)
    doc.add_paragraph("Install the package first.")
    doc.add_heading("Requirements", level=2)
    doc.add_paragraph("You need Python 3.11.")
    table = doc.add_table(rows=3, cols=3)
    for r, row in enumerate([["Name", "Version", "Notes"], ["numpy", "2.1", "fast"],
                             ["pypdf", "7.1", ""]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    doc.add_paragraph("Text after the table.")
    doc.add_heading("Usage", level=1)
    doc.add_paragraph("Run it.")


def rewrite_zip(data: bytes, replace: dict[str, bytes],
                drop: frozenset[str] = frozenset()) -> bytes:
    """``data`` (a zip) with the members in ``replace`` replaced or added and ``drop`` left out."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            dst.writestr(info, replace.get(info.filename, src.read(info)))
        for name, body in replace.items():
            if name not in src.namelist():
                dst.writestr(name, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
