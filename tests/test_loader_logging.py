"""A parser failure is shown to the person as "damaged"/"could not be read" either way, but
the log tells a damaged file (INFO, one line) from an unexpected exception, which may be a
bug here or in the parser (WARNING, with its traceback)."""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
from docx import Document
from pdf_factory import make_pdf

from rag.errors import CorruptFileError
from rag.loaders import load_bytes


def _docx() -> bytes:
    doc = Document()
    doc.add_paragraph("Texto del documento.")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _records(caplog, level: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("rag.loaders")
            and r.levelname == level]


def test_a_bug_in_the_docx_reader_is_logged_with_its_traceback(caplog, monkeypatch) -> None:
    import docx

    def broken(*_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute 'xpath'")  # a bug

    monkeypatch.setattr(docx, "Document", broken)
    caplog.set_level(logging.INFO)
    with pytest.raises(CorruptFileError, match="is damaged or incomplete"):
        load_bytes(_docx(), "informe.docx")
    (record,) = _records(caplog, "WARNING")
    assert "unexpected AttributeError" in record.getMessage()
    assert record.exc_info and record.exc_info[0] is AttributeError


def test_a_damaged_docx_is_logged_at_info_without_traceback(caplog) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_docx())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():  # the main part cut off mid-tag
            body = src.read(info)
            dst.writestr(info, body[:300] if info.filename == "word/document.xml" else body)
    data = out.getvalue()
    caplog.set_level(logging.INFO)
    with pytest.raises(CorruptFileError):
        load_bytes(data, "roto.docx")
    assert not _records(caplog, "WARNING")
    assert any("roto.docx" in r.getMessage() and not r.exc_info
               for r in _records(caplog, "INFO"))


def test_a_bug_while_reading_a_pdf_page_is_logged_with_its_traceback(caplog,
                                                                    monkeypatch) -> None:
    from rag.loaders import pdf

    def broken(_textpage):
        raise TypeError("unsupported operand type(s)")  # a bug in the layout code

    monkeypatch.setattr(pdf, "pdfium_lines", broken)
    caplog.set_level(logging.INFO)
    doc = load_bytes(make_pdf(["Primera página.", "Segunda página."]), "informe.pdf")
    assert doc.warnings == ["page 1 was read with a fallback extractor",
                            "page 2 was read with a fallback extractor"]
    warnings = _records(caplog, "WARNING")
    assert len(warnings) == 2 and all(r.exc_info[0] is TypeError for r in warnings)


@pytest.mark.parametrize("bug", [True, False])
def test_an_unreadable_outline_is_logged_by_kind(caplog, monkeypatch, bug) -> None:
    """The PDF is read without its outline either way; a bug in reading it (not pdfium's
    own error on a damaged outline) is logged at WARNING with its traceback."""
    import pypdfium2

    def broken(*_args, **_kwargs):
        if bug:
            raise AttributeError("'NoneType' object has no attribute 'raw'")
        raise pypdfium2.PdfiumError("damaged bookmark tree")
        yield  # a generator, like the real get_toc

    monkeypatch.setattr(pypdfium2.PdfDocument, "get_toc", broken)
    caplog.set_level(logging.INFO)
    doc = load_bytes(make_pdf(["Primera página.", "Segunda página."]), "informe.pdf")
    assert [s.page for s in doc.sections] == [1, 2]
    warnings = [r for r in _records(caplog, "WARNING") if "outline" in r.getMessage()]
    infos = [r for r in _records(caplog, "INFO") if "outline" in r.getMessage()]
    if bug:
        assert len(warnings) == 1 and warnings[0].exc_info[0] is AttributeError
    else:
        assert not warnings and len(infos) == 1 and not infos[0].exc_info
        assert "PdfiumError: damaged bookmark tree" in infos[0].getMessage()
