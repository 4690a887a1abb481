"""rag.loaders reads a file as what its content is, whatever its extension says, and refuses
other content, unknown extensions and empty files with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from loader_samples import PAGES, make_docx, rewrite_zip, sample_docx
from pdf_factory import make_pdf

from rag.errors import EmptyFileError, EncryptedFileError, UnsupportedFileError
from rag.loaders import load_bytes, load_file


def test_pdf_named_docx_and_docx_named_pdf_are_read_as_what_they_are() -> None:
    word = load_bytes(make_docx(sample_docx), "report.pdf")
    assert (word.file_name, word.kind) == ("report.pdf", "docx")
    assert "Install the package first." in word.text
    assert word.warnings == ["named .pdf but its content is a Word document (.docx): read as "
                             "such"]
    pdf = load_bytes(make_pdf(PAGES), "report.docx")
    assert (pdf.kind, pdf.pages) == ("pdf", 3) and "Third page" in pdf.text
    assert pdf.warnings == ["named .docx but its content is a PDF: read as such"]
    text = load_bytes(b"Notas en texto plano.", "notas.pdf")
    assert (text.kind, text.text) == ("txt", "Notas en texto plano.")
    assert text.warnings == ["named .pdf but its content is plain text: read as such"]
    markdown = load_bytes(b"# Title\n\nBody.", "notes.md")
    assert markdown.kind == "md" and not markdown.warnings


def test_other_content_with_a_supported_extension_is_refused() -> None:
    xlsx = rewrite_zip(make_docx(sample_docx), {"xl/workbook.xml": b"<workbook/>"},
                        drop=frozenset({"word/document.xml"}))
    with pytest.raises(UnsupportedFileError) as info:
        load_bytes(xlsx, "sheet.docx")
    assert str(info.value) == ("sheet.docx is not a Word document: its content is an Excel "
                               "workbook (.xlsx).")


def test_ole_files_named_docx() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
    # Word saves a password-protected .docx as an OLE container holding "EncryptedPackage".
    with pytest.raises(EncryptedFileError, match=r"^locked\.docx is password-protected"):
        load_bytes(ole + "EncryptedPackage".encode("utf-16-le") + bytes(64), "locked.docx")
    with pytest.raises(UnsupportedFileError, match=r"old-format Word document \(\.doc\)\. Save"):
        load_bytes(ole + bytes(64), "old.docx")


def test_binary_named_txt() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    with pytest.raises(UnsupportedFileError, match=r"^notes\.txt looks like binary data, not"):
        load_bytes(png, "notes.txt")
    assert load_bytes(make_pdf(PAGES), "notes.md").kind == "pdf"
    assert load_bytes(make_docx(sample_docx), "notes.txt").kind == "docx"


def test_unknown_extension_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileError) as info:
        load_bytes(b"PK\x03\x04", "sheet.xlsx")
    assert str(info.value) == (
        "sheet.xlsx: unsupported file type '.xlsx'. Upload .pdf, .docx, .txt or .md files."
    )
    assert info.value.code == "unsupported"
    empty = tmp_path / "x.txt"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError, match=r"^x\.txt is empty\.$"):
        load_file(empty)
    for data, name in [(b" \n\t\r\n ", "blank.md"), (b"", "e.pdf"), (b"", "e.docx"),
                       ("   ".encode("utf-16"), "w.txt")]:
        with pytest.raises(EmptyFileError, match="is empty"):
            load_bytes(data, name)
