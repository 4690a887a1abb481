"""rag.loaders on PDFs: written by tests/pdf_factory.py (text, empty and encrypted pages,
damage, limits, threads), and a real Debian PDF against its plain-text twin."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from debian_docs import pdf_and_twin, word_f1
from loader_samples import PAGES
from pdf_factory import make_pdf

from rag import loaders
from rag.errors import CorruptFileError, EncryptedFileError, FileTooLargeError, NoTextError
from rag.loaders import ParseOptions, detect_kind, load_bytes, load_file


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
