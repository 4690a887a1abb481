"""rag.loaders on Word documents written with python-docx: heading paths, tables, damage,
XML entities and zip bombs."""

from __future__ import annotations

import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from loader_samples import make_docx, rewrite_zip, sample_docx

from rag import loaders
from rag.errors import CorruptFileError, FileTooLargeError, NoTextError
from rag.loaders import load_bytes


def test_docx_headings_and_table_rows() -> None:
    doc = load_bytes(make_docx(sample_docx), "guide.docx")
    assert doc.kind == "docx" and doc.pages == len(doc.sections) == 4
    by_heading = {s.heading: s.text for s in doc.sections}
    assert all(s.page is None for s in doc.sections)
    assert by_heading[""] == "Preface text before any heading."
    assert by_heading["Installation"] == "Install the package first."
    reqs = by_heading["Installation > Requirements"]
    assert reqs.startswith("You need Python 3.11.")
    assert "Name: numpy | Version: 2.1 | Notes: fast\nName: pypdf | Version: 7.1" in reqs
    assert reqs.endswith("Text after the table.")  # document order: table before this
    assert by_heading["Usage"] == "Run it."


def test_docx_spanish_heading_style_and_outline_level() -> None:
    def build(doc) -> None:
        doc.styles.add_style("Título 1", WD_STYLE_TYPE.PARAGRAPH)
        doc.add_paragraph("Capítulo uno", style="Título 1")
        doc.add_paragraph("Texto del capítulo.")
        para = doc.add_paragraph("Apartado por nivel de esquema")
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), "1")
        para._p.get_or_add_pPr().append(outline)
        doc.add_paragraph("Texto del apartado.")

    doc = load_bytes(make_docx(build), "capítulo.docx")
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Capítulo uno", "Texto del capítulo."),
        ("Capítulo uno > Apartado por nivel de esquema", "Texto del apartado."),
    ]


def test_docx_without_text_and_single_row_table() -> None:
    with pytest.raises(NoTextError, match=r"^blank\.docx contains no text\.$"):
        load_bytes(make_docx(lambda doc: doc.add_paragraph("   ")), "blank.docx")

    def one_row(doc) -> None:
        table = doc.add_table(rows=1, cols=3)
        for c, value in enumerate(["solo", "", "fila"]):
            table.cell(0, c).text = value

    assert load_bytes(make_docx(one_row), "t.docx").sections[0].text == "solo | fila"


def test_docx_truncated_is_corrupt() -> None:
    data = make_docx(sample_docx)
    with pytest.raises(CorruptFileError, match=r"^cut\.docx is damaged or incomplete"):
        load_bytes(data[: len(data) // 2], "cut.docx")


def test_docx_with_entities_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    data = rewrite_zip(make_docx(sample_docx), {"word/document.xml": bomb})
    with pytest.raises(CorruptFileError, match="DOCTYPE/ENTITY"):
        load_bytes(data, "lol.docx")


def test_docx_zip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    data = rewrite_zip(make_docx(sample_docx), {"word/media/zeros.bin": bytes(2 << 20)})
    assert len(data) < 100_000
    with pytest.raises(FileTooLargeError, match="unpacks to more than 1 MB"):
        load_bytes(data, "bomb.docx")
