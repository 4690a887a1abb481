"""Plain text and Markdown: the encoding is detected (see :mod:`rag.loaders.encodings`),
Markdown is split at its ATX headings outside fenced code."""

from __future__ import annotations

import re

from rag.errors import EmptyFileError
from rag.loaders.common import CONTROL_CHARS, limits, strip_line_ends, too_much_text
from rag.loaders.encodings import decode_text
from rag.schema import Section


def _clean_plain(text: str) -> str:
    text = CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", strip_line_ends(text)).strip()


def _decoded(data: bytes, file_name: str) -> tuple[str, list[str]]:
    text, label = decode_text(data, file_name)
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


