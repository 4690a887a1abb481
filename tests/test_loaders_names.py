"""rag.loaders.safe_file_name: upload names made safe to store and show, or refused."""

from __future__ import annotations

import unicodedata

import pytest

from rag.errors import InvalidNameError
from rag.loaders import safe_file_name


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
