"""rag.loaders on real files: PDFs written by tests/pdf_factory.py, DOCX written with
python-docx, text in several encodings, and a real Debian PDF with its plain-text twin."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from debian_docs import pdf_and_twin, word_f1
from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from pdf_factory import make_pdf

from rag import loaders
from rag.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    InvalidNameError,
    NoTextError,
    UnsupportedFileError,
)
from rag.loaders import ParseOptions, detect_kind, load_bytes, load_file, safe_file_name

PAGES = [
    "Primera página: información sobre el año fiscal.\nUna segunda línea.",
    "Second page about apples.\nThe word infor-\nmation is split.\n\nA new paragraph here.",
    "Third page, the last one.",
]


# ------------------------------------------------------------------------------------ helpers
def _docx_bytes(build) -> bytes:
    doc = Document()
    build(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _sample_docx(doc) -> None:
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


def _rewrite_zip(data: bytes, replace: dict[str, bytes], drop: frozenset[str] = frozenset()
                 ) -> bytes:
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


# ---------------------------------------------------------------------------------------- PDF
def test_pdf_pages_and_text(tmp_path: Path) -> None:
    path = tmp_path / "informe.pdf"
    path.write_bytes(make_pdf(PAGES))
    doc = load_file(path)
    assert doc.kind == "pdf" and doc.pages == 3 and doc.warnings == []
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert "información sobre el año fiscal" in doc.sections[0].text
    second = doc.sections[1].text
    assert "information is split" in second  # hyphenated line break joined
    assert "split.\n\nA new paragraph" in second  # the paragraph gap became a blank line
    assert doc.text.count("\f") == 2


def test_pdf_page_without_text_warns() -> None:
    doc = load_bytes(make_pdf(["Some text.", None, "More text."]), "scan.pdf")
    assert [s.page for s in doc.sections] == [1, 3]
    assert doc.pages == 3
    assert doc.warnings == ["page 2 has no text (scanned?)"]


def test_pdf_without_any_text_raises() -> None:
    """Drawn shapes only: OCR runs and finds nothing; without OCR, the old message."""
    with pytest.raises(NoTextError, match=r"scan\.pdf has no text layer, and OCR found no"):
        load_bytes(make_pdf([None, ""]), "scan.pdf")
    with pytest.raises(NoTextError, match=r"scan\.pdf has no text layer \(scanned images\?\)"):
        load_bytes(make_pdf([None, ""]), "scan.pdf", ParseOptions(ocr="off"))


def test_pdf_encrypted_with_empty_password_loads(tmp_path: Path) -> None:
    data = make_pdf(PAGES, encrypt_password="")
    assert b"/Encrypt" in data
    doc = load_bytes(data, "protected.pdf")
    assert doc.pages == 3 and "año fiscal" in doc.sections[0].text


def test_pdf_with_password_raises(tmp_path: Path) -> None:
    with pytest.raises(EncryptedFileError) as info:
        load_bytes(make_pdf(PAGES, encrypt_password="s3cret"), "secret.pdf")
    assert str(info.value) == (
        "secret.pdf is password-protected: remove the password and upload it again."
    )
    assert info.value.code == "encrypted"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_pdf_is_corrupt(fraction: float) -> None:
    # Neither pdfium nor pypdf recovers a PDF whose trailer is cut off: a clear error.
    data = make_pdf(PAGES)
    with pytest.raises(CorruptFileError) as info:
        load_bytes(data[: int(len(data) * fraction)], "cut.pdf")
    assert str(info.value) == "cut.pdf is damaged or incomplete and could not be read."


def test_pdf_with_broken_xref_is_repaired_with_warning() -> None:
    data = make_pdf(PAGES)
    at = data.rindex(b"startxref\n") + len(b"startxref\n")
    broken = data[:at] + b"999" + data[data.index(b"\n", at):]
    doc = load_bytes(broken, "repaired.pdf")
    assert doc.pages == 3 and "Third page" in doc.sections[2].text
    assert any("repaired" in w for w in doc.warnings)


def test_pdf_with_leading_junk_and_upper_case_extension() -> None:
    data = b"\xef\xbb\xbfjunk before the header\n" + make_pdf(PAGES)
    assert detect_kind(data, "REPORT.PDF") == ("pdf", [])
    assert load_bytes(data, "REPORT.PDF").pages == 3


def test_pdf_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_pdf(PAGES)
    monkeypatch.setattr(loaders, "MAX_PAGES", 2)
    with pytest.raises(FileTooLargeError, match="has 3 pages; the limit is 2"):
        load_bytes(data, "big.pdf")
    monkeypatch.setattr(loaders, "MAX_PAGES", 5000)
    monkeypatch.setattr(loaders, "MAX_CHARS", 60)
    with pytest.raises(FileTooLargeError, match="characters"):
        load_bytes(data, "big.pdf")


def test_pdf_loads_from_many_threads() -> None:
    # pdfium is not thread-safe; the loader serializes it, so parallel uploads are fine.
    data = make_pdf(PAGES)
    with ThreadPoolExecutor(max_workers=8) as pool:
        docs = list(pool.map(lambda i: load_bytes(data, f"t{i}.pdf"), range(16)))
    assert {d.sections[2].text for d in docs} == {"Third page, the last one."}


def test_clean_pdf_text() -> None:
    raw = ("infor-\r\nmation\r\nJean-\r\nPierre\x00 and sof\ufffetware, "
           "Non\ufffeMaintainer\r\n\r\n\r\nend")
    assert loaders.clean_pdf_text(raw) == (
        "information\nJean-\nPierre and software, Non-Maintainer\n\nend"
    )


# --------------------------------------------------------------------------------------- DOCX
def test_docx_headings_and_table_rows() -> None:
    doc = load_bytes(_docx_bytes(_sample_docx), "guide.docx")
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

    doc = load_bytes(_docx_bytes(build), "capítulo.docx")
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Capítulo uno", "Texto del capítulo."),
        ("Capítulo uno > Apartado por nivel de esquema", "Texto del apartado."),
    ]


def test_docx_without_text_and_single_row_table() -> None:
    with pytest.raises(NoTextError, match=r"^blank\.docx contains no text\.$"):
        load_bytes(_docx_bytes(lambda doc: doc.add_paragraph("   ")), "blank.docx")

    def one_row(doc) -> None:
        table = doc.add_table(rows=1, cols=3)
        for c, value in enumerate(["solo", "", "fila"]):
            table.cell(0, c).text = value

    assert load_bytes(_docx_bytes(one_row), "t.docx").sections[0].text == "solo | fila"


def test_docx_truncated_is_corrupt() -> None:
    data = _docx_bytes(_sample_docx)
    with pytest.raises(CorruptFileError, match=r"^cut\.docx is damaged or incomplete"):
        load_bytes(data[: len(data) // 2], "cut.docx")


def test_docx_with_entities_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    data = _rewrite_zip(_docx_bytes(_sample_docx), {"word/document.xml": bomb})
    with pytest.raises(CorruptFileError, match="DOCTYPE/ENTITY"):
        load_bytes(data, "lol.docx")


def test_docx_zip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaders, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    data = _rewrite_zip(_docx_bytes(_sample_docx), {"word/media/zeros.bin": bytes(2 << 20)})
    assert len(data) < 100_000
    with pytest.raises(FileTooLargeError, match="unpacks to more than 1 MB"):
        load_bytes(data, "bomb.docx")


# -------------------------------------------------------------------------------- type checks
def test_pdf_named_docx_and_docx_named_pdf_are_read_as_what_they_are() -> None:
    word = load_bytes(_docx_bytes(_sample_docx), "report.pdf")
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
    xlsx = _rewrite_zip(_docx_bytes(_sample_docx), {"xl/workbook.xml": b"<workbook/>"},
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
    assert load_bytes(_docx_bytes(_sample_docx), "notes.txt").kind == "docx"


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


# --------------------------------------------------------------------------------- text & md
def test_cp1252_text_decodes_spanish(tmp_path: Path) -> None:
    path = tmp_path / "notas.txt"
    path.write_bytes("El año de la información: €5, “comillas”.\r\n".encode("cp1252"))
    doc = load_file(path)
    assert doc.sections[0].text == "El año de la información: €5, “comillas”."
    assert doc.warnings == ["not UTF-8: decoded as Windows-1252"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-8"])
def test_unicode_encodings(encoding: str) -> None:
    text = "Canción de información\nsegunda línea"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = load_bytes(data, "cancion.txt")
    assert doc.kind == "txt" and doc.sections[0].text == text
    assert bool(doc.warnings) == encoding.startswith("utf-16")


def test_txt_form_feeds_nuls_and_latin1_fallback() -> None:
    doc = load_bytes(b"first part\x00\n\n\n\n\nstill first\fsecond part\f\f", "a.txt")
    assert [s.text for s in doc.sections] == ["first part\n\nstill first", "second part"]
    assert doc.pages == 2 and all(s.page is None for s in doc.sections)
    latin = load_bytes(b"caf\xe9 \x81 ok", "l.txt")  # 0x81 is undefined in cp1252
    assert latin.sections[0].text.startswith("café")
    assert "Latin-1" in latin.warnings[0]


def test_markdown_heading_paths_skip_code_fences() -> None:
    md = ("Intro line.\n# Guide\nGuide text.\n## Install ##\nStep one.\n```bash\n# not a heading"
          "\n```\n### Deep\nDeep text.\n## Use\nUse text.\n#nospace is text\n# Other\nEnd.\n")
    doc = load_bytes(md.encode(), "guide.markdown")
    assert doc.kind == "md"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("", "Intro line."),
        ("Guide", "Guide text."),
        ("Guide > Install", "Step one.\n```bash\n# not a heading\n```"),
        ("Guide > Install > Deep", "Deep text."),
        ("Guide > Use", "Use text.\n#nospace is text"),
        ("Other", "End."),
    ]


def test_load_bytes_metadata(tmp_path: Path) -> None:
    path = tmp_path / "upload-123.tmp"
    path.write_bytes(b"hello world")
    doc = load_file(path, display_name="../Saludo año.md")
    assert doc.file_name == "Saludo año.md" and doc.kind == "md"
    assert doc.content_hash == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert doc.pages == 1 and doc.characters == 11


# ---------------------------------------------------------------------------------- file names
@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("/abs/x.pdf", "x.pdf"),
    ("a\x00b.txt", "ab.txt"),
    ("C:\\Users\\x.docx", "x.docx"),
    ("informe año.pdf", "informe año.pdf"),
    (unicodedata.normalize("NFD", "informe año.pdf"), "informe año.pdf"),
    ("  many   spaces\tand\ttabs .md", "many spaces and tabs .md"),
    ("evil\u202etxt.pdf", "eviltxt.pdf"),
    ('what?<is>:"this".txt', "what__is___this_.txt"),
])
def test_safe_file_name(raw: str, expected: str) -> None:
    assert safe_file_name(raw) == expected


def test_safe_file_name_caps_length_keeping_extension() -> None:
    name = safe_file_name("ñ" * 300 + ".docx")
    assert len(name) == 120 and name.endswith("ñ.docx")
    assert len(safe_file_name("x" * 300)) == 120


@pytest.mark.parametrize("raw", ["", "   ", ".", "..", "../..", "/", "\x00\x01", "C:\\"])
def test_safe_file_name_rejects_unusable(raw: str) -> None:
    with pytest.raises(InvalidNameError):
        safe_file_name(raw)


# ----------------------------------------------------------------------------- real Debian PDF
def test_real_debian_pdf_matches_its_text_twin() -> None:
    pdf_path, twin = pdf_and_twin("maint-guide-es")
    doc = load_file(pdf_path)
    reference = pdfium.PdfDocument(pdf_path)
    try:
        assert doc.pages == len(reference)
    finally:
        reference.close()
    assert all(1 <= s.page <= doc.pages for s in doc.sections)
    f1 = word_f1(doc.text, twin)
    assert f1 >= 0.9, f"word-F1 {f1:.3f} against the text twin"
    assert re.search(r"\bdesarrollador\b", doc.text) and "\ufffe" not in doc.text
