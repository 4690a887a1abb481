"""Plain text and Markdown: the encoding is detected (BOM, UTF-8, Windows-1252, Latin-1),
Markdown is split at its ATX headings outside fenced code."""

from __future__ import annotations

import codecs
import re

from rag.errors import EmptyFileError
from rag.loaders.common import CONTROL_CHARS, limits, strip_line_ends, too_much_text
from rag.schema import Section

_BOMS = ((codecs.BOM_UTF8, "utf-8", ""), (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
         (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"))


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding label); the label is '' for UTF-8. BOM, then UTF-8, then
    Windows-1252 (Spanish files from Windows), then Latin-1, which never fails."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace"), label
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        if sum(ord(c) > 127 for c in text) - bad >= 20 * bad:  # UTF-8 with a few bad bytes
            return text, f"UTF-8 with {bad} invalid byte(s) replaced"
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1 (ISO-8859-1)"


def _clean_plain(text: str) -> str:
    text = CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", strip_line_ends(text)).strip()


def _decoded(data: bytes, file_name: str) -> tuple[str, list[str]]:
    text, label = decode_text(data)
    if len(text) > limits().MAX_CHARS:
        raise too_much_text(file_name)
    if not text.replace("\x00", "").strip():
        raise EmptyFileError(f"{file_name} is empty.", name=file_name)
    return text, [f"not UTF-8: decoded as {label}"] if label else []


def load_txt(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    """One section per form-feed-separated part."""
    text, warnings = _decoded(data, file_name)
    sections = [Section(part) for part in map(_clean_plain, text.split("\f")) if part]
    return sections, len(sections), warnings


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def atx_heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line (``## Title ##``), else ``None``. Parsed by hand:
    the equivalent regex backtracks quadratically over a long run of spaces."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("#"):
        return None
    level = len(stripped) - len(stripped.lstrip("#"))
    rest = stripped[level:]
    if level > 6 or (rest and rest[0] not in " \t"):
        return None
    rest = rest.strip(" \t")
    body = rest.rstrip("#")
    if body != rest and (not body or body[-1] in " \t"):  # a closing sequence
        rest = body.rstrip(" \t")
    return level, rest


def load_md(data: bytes, file_name: str) -> tuple[list[Section], int, list[str]]:
    """One section per ATX heading (outside fenced code), with its heading path."""
    text, warnings = _decoded(data, file_name)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fence = ""

    def flush() -> None:
        body = _clean_plain("\n".join(lines))
        if body:
            sections.append(Section(body, heading=" > ".join(t for _, t in path)))
        lines.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        m = _FENCE.match(line)
        if m and not fence:
            fence = m.group(1)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not m.group(2).strip():
            fence = ""
        elif not fence and (h := atx_heading(line)) and h[1]:
            flush()
            while path and path[-1][0] >= h[0]:
                path.pop()
            path.append(h)
            continue
        lines.append(line)
    flush()
    return sections, len(sections), warnings


