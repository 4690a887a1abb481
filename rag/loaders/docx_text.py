"""Text of WordprocessingML elements that python-docx's ``.text`` leaves out.

- tracked insertions (``w:ins``), moved text, fields, smart tags and inline content
  controls: all of a paragraph's runs are read, except deleted or moved-away text;
- text boxes (``w:txbxContent``): read once (Word stores a second, VML copy in
  ``mc:Fallback``, skipped), as paragraphs after the one that anchors them;
- nested tables: a cell's text includes the tables inside it, at any depth (iteratively:
  no recursion limit to hit);
- ``w:altChunk`` parts (HTML, plain text or another .docx embedded by a program): their text,
  or a warning naming the part that could not be read.
"""

from __future__ import annotations

import html.parser
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
TEXT_TAGS = {W + "t": None, W + "tab": "\t", W + "br": "\n", W + "cr": "\n",
             W + "noBreakHyphen": "-", W + "softHyphen": ""}
SKIPPED = {W + "del", W + "moveFrom", W + "txbxContent", MC_FALLBACK, W + "instrText",
           W + "delInstrText"}
TEXT_BOX = W + "txbxContent"


def _inside(element: Any, top: Any, tags: set[str]) -> bool:
    """Whether an ancestor of ``element`` below ``top`` has one of ``tags``."""
    parent = element.getparent()
    while parent is not None and parent is not top:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


COPIES = {MC_FALLBACK, W + "del", W + "moveFrom"}  # text that is not (or no longer) shown


def paragraph_text(p: Any) -> str:
    """All the visible text of a ``w:p``, text boxes excepted."""
    parts = []
    for element in p.iter(*TEXT_TAGS):
        if not _inside(element, p, SKIPPED):
            fixed = TEXT_TAGS[element.tag]
            parts.append(element.text or "" if fixed is None else fixed)
    return "".join(parts)


def _paragraphs(top: Any) -> Iterator[Any]:
    """Every ``w:p`` below ``top`` (text boxes and nested tables too), fallback copies
    excepted."""
    return (p for p in top.iter(W + "p") if not _inside(p, top, COPIES))


def text_boxes(p: Any) -> list[str]:
    """The paragraphs of the text boxes anchored in ``p`` (each box once)."""
    texts = []
    for box in p.iter(TEXT_BOX):
        if _inside(box, p, COPIES | {TEXT_BOX}):  # a fallback copy, or in another box
            continue
        texts += [t for inner in _paragraphs(box) if (t := paragraph_text(inner).strip())]
    return texts


def cell_text(tc: Any) -> str:
    """A table cell's text, nested tables and text boxes included, on one line."""
    texts = [paragraph_text(p) for p in _paragraphs(tc)]
    return " ".join(" ".join(t.split()) for t in texts if t.strip())


class _HTMLText(html.parser.HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                        "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("script", "style")
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def alt_chunk_text(element: Any, part: Any, file_name: str, depth: int) -> Iterator[str]:
    """Text of the part a ``w:altChunk`` points to; raises ``ValueError`` (with what was
    skipped) for a part that cannot be read."""
    target = part.related_parts.get(element.get(R_ID))
    if target is None:
        raise ValueError("an embedded part (altChunk) is missing")
    kind = (target.content_type or "").lower()
    blob: bytes = target.blob
    if "html" in kind:
        yield html_text(blob.decode("utf-8", errors="replace"))
    elif kind.startswith("text/plain"):
        yield blob.decode("utf-8", errors="replace")
    elif "wordprocessingml" in kind and depth < 2 and blob.startswith(b"PK"):
        from rag.errors import DocumentError
        from rag.loaders.docx import load_docx

        try:
            sections, _, _ = load_docx(blob, file_name, depth=depth + 1)
        except DocumentError:
            raise ValueError("an embedded document (altChunk) could not be read") from None
        yield from (s.text for s in sections)
    else:
        raise ValueError(f"an embedded part of type {kind or 'unknown'} (altChunk) was skipped")
