"""rag.loaders on text and Markdown: encodings, form feeds and NULs, Markdown heading paths,
and the metadata of a loaded file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.loaders import load_bytes, load_file


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
