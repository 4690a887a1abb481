"""Page layout of PDFs: text lines with their position and font, running headers and
footers, page-number lines and tables of contents.

Running headers and footers ("Guía del nuevo desarrollador de Debian 5 / 63", "6 Chapter 2.
Applying to Become a Member") are lines in a page's top or bottom band that either repeat
on several pages once numbers are ignored, or carry the page's own printed number (its
offset from the page index is the same all through the document), or are nothing but a
page number. Tables of contents are found in :mod:`.pdf_contents`.
"""

from __future__ import annotations

import collections
import itertools
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from rag.loaders.common import CONTROL_CHARS, strip_line_ends

MARGIN_BAND = 0.1  # share of the page height, at top and bottom, where running lines live
MIN_REPEATS = 3  # pages a header must appear on to count as running


@dataclass(frozen=True)
class Line:
    """A text line of a page. Positions are PDF points from the page's bottom edge;
    ``None`` where the reader gave no geometry (pypdf fallback)."""

    text: str
    top: float | None = None
    bottom: float | None = None
    size: float = 0.0  # font size of its first characters
    bold: bool = False
    new_paragraph: bool = False  # a clearly larger gap than the usual line pitch precedes it


@dataclass
class PageLines:
    """One page's lines in reading order; ``height`` in points (0 if unknown)."""

    lines: list[Line]
    height: float = 0.0

    def text(self) -> str:
        return lines_text(self.lines)


def lines_text(lines: list[Line]) -> str:
    if not lines:
        return ""
    return lines[0].text + "".join(("\n\n" if ln.new_paragraph else "\n") + ln.text
                                   for ln in lines[1:])


def clean_pdf_text(text: str) -> str:
    """Normalize extracted page text: line ends, NULs, hyphenation; keeps blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # pdfium marks a word hyphenated at a line end with U+FFFE and drops the line break.
    text = re.sub("\ufffe\\s*(?=(.?))", lambda m: "" if m.group(1).islower() else "-", text)
    text = text.replace("\u00ad\n", "").replace("\u00ad", "")
    text = re.sub(r"([^\s-])-\n[ \t]*(\w)",
                  lambda m: m.group(1) + m.group(2) if m.group(2).islower() else m.group(0), text)
    text = strip_line_ends(CONTROL_CHARS.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def plain_lines(text: str) -> list[Line]:
    """Lines of text without geometry; a blank line marks a new paragraph."""
    out: list[Line] = []
    gap = False
    for raw in text.split("\n"):
        if not raw.strip():
            gap = bool(out)
            continue
        out.append(Line(raw, new_paragraph=gap))
        gap = False
    return out


def pdfium_lines(textpage: Any) -> list[Line]:
    """The page's lines with position and font; a paragraph break wherever the gap between
    two lines is clearly larger than the page's usual line pitch (pdfium only gives line
    breaks)."""
    import pypdfium2.raw as pdfium_c

    text: str = textpage.get_text_range()
    if len(text) != textpage.count_chars():
        return plain_lines(text.replace("\r\n", "\n").replace("\r", "\n"))
    raw = []  # (line, first bottom, last bottom, top, size, bold)
    for m in re.finditer(r"[^\r\n]+", text):
        line = m.group()
        first, last = len(line) - len(line.lstrip()), len(line.rstrip()) - 1
        if last < first:
            continue
        _, bottom, _, top = textpage.get_charbox(m.start() + first, loose=True)
        last_bottom = textpage.get_charbox(m.start() + last, loose=True)[1]
        index = m.start() + first
        size = pdfium_c.FPDFText_GetFontSize(textpage.raw, index)
        weight = pdfium_c.FPDFText_GetFontWeight(textpage.raw, index)
        raw.append((line, bottom, last_bottom, top, size, weight >= 600))
    if not raw:
        return []
    gaps = [a[2] - b[1] for a, b in itertools.pairwise(raw)]
    heights = [r[3] - r[1] for r in raw]
    usual = sorted(g for g, h in zip(gaps, heights[1:], strict=False) if 0.5 * h <= g <= 3 * h)
    pitch = usual[len(usual) // 4] if usual and len(raw) >= 3 else 0.0
    lines = [Line(raw[0][0], raw[0][3], raw[0][1], raw[0][4], raw[0][5])]
    for gap, height, (line, bottom, _, top, size, bold) in zip(gaps, heights[1:], raw[1:],
                                                               strict=False):
        new_paragraph = bool((pitch and gap > pitch * 1.3) or gap < -height)
        lines.append(Line(line, top, bottom, size, bold, new_paragraph))
    return lines


# ---- running headers and footers -------------------------------------------------------

_ROMAN = re.compile(r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})")
# Valid roman numerals that are far more often words, units or initials at a line's end
# ("vi", "xi", page numbers in front matter, stay numerals); "XL" is a clothing size.
_ROMAN_WORDS = frozenset({"c", "d", "l", "m", "cd", "cl", "cm", "cv", "dc", "di", "dl", "mc",
                          "md", "mi", "ml", "mm", "mix"})
_ROMAN_UPPER_WORDS = frozenset({"XL"})
_PAGE_ONLY = re.compile(
    r"^[-–—\s]*(?:(?:p[aá]g(?:ina)?|page|p)\.?\s*)?(\d{1,4}|[ivxlcdm]{1,8})"
    r"(?:\s*(?:/|of|de)\s*\d{1,4})?[-–—\s]*$", re.IGNORECASE)


def is_roman(token: str) -> bool:
    """Whether ``token`` is a roman numeral as printed for a page or chapter: all upper or
    all lower case, well formed ("xiv", not "civil"), and not a common word ("mix", "mi")."""
    low = token.lower()
    return (0 < len(token) <= 8 and (token.islower() or token.isupper())
            and low not in _ROMAN_WORDS and token not in _ROMAN_UPPER_WORDS
            and _ROMAN.fullmatch(low) is not None)


def page_like(token: str) -> bool:
    """Whether ``token`` may be a printed page number: arabic, or a real roman numeral."""
    return token.isdigit() or is_roman(token)


def _page_only(text: str) -> bool:
    m = _PAGE_ONLY.match(text)
    return bool(m and page_like(m.group(1)))
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,4})(?=\s)")
_TRAILING_NUMBER = re.compile(r"(?<![\d.])(\d{1,4})(?:\s*(?:/|of|de)\s*\d{1,4})?\s*$")


def _template(text: str) -> str:
    """The line with numbers (and a leading/trailing roman numeral) as '#', letters only."""
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())
    if words and is_roman(words[-1]):
        words[-1] = "#"
    if words and is_roman(words[0]):
        words[0] = "#"
    return "".join("#" if w.isdigit() or w == "#" else w for w in words)


def _edge_numbers(text: str) -> set[int]:
    """The numbers a line starts or ends with (a page number's places), "5 / 63" as 5."""
    found = set()
    if m := _LEADING_NUMBER.match(text):
        found.add(int(m.group(1)))
    if m := _TRAILING_NUMBER.search(text):
        found.add(int(m.group(1)))
    return found


def _band_lines(page: PageLines) -> list[int]:
    """Indexes of the lines that may be running headers or footers: the first and last two
    in reading order, when they lie in the page's top or bottom band (or the very first and
    last line when there is no geometry)."""
    n = len(page.lines)
    edges = sorted({i for i in (0, 1, n - 2, n - 1) if 0 <= i < n})
    if not page.height:
        return [i for i in edges if i in (0, n - 1)] if n > 3 else []
    band = page.height * MARGIN_BAND
    out = []
    for i in edges:
        line = page.lines[i]
        if line.top is None or line.bottom is None:
            continue
        if line.bottom >= page.height - band or line.top <= band:
            out.append(i)
    return out


def running_lines(pages: list[PageLines]) -> list[set[int]]:
    """For each page, the indexes of its running header/footer and page-number lines."""
    bands = [_band_lines(p) for p in pages]
    templates: collections.Counter[str] = collections.Counter()
    offsets: collections.Counter[int] = collections.Counter()
    for index, (page, band) in enumerate(zip(pages, bands, strict=True)):
        templates.update({_template(page.lines[i].text) for i in band})
        offsets.update({index - n for i in band for n in _edge_numbers(page.lines[i].text)})
    numbered = [o for o, c in offsets.items() if c >= MIN_REPEATS and c >= 0.25 * len(pages)]
    offset = max(numbered, key=lambda o: offsets[o]) if numbered else None
    found: list[set[int]] = []
    for index, (page, band) in enumerate(zip(pages, bands, strict=True)):
        drop = set()
        for i in band:
            text = page.lines[i].text.strip()
            template = _template(text)
            if (_page_only(text)
                    or (templates[template] >= MIN_REPEATS and len(text) <= 160)
                    or (offset is not None and len(text) <= 120
                        and index - offset in _edge_numbers(text))):
                drop.add(i)
        found.append(drop)
    return found


def without(lines: list[Line], gone: set[int]) -> list[Line]:
    """``lines`` less those at ``gone``; the line after a removed one starts a paragraph."""
    if not gone:
        return lines
    out: list[Line] = []
    cut = False
    for i, line in enumerate(lines):
        if i in gone:
            cut = True
            continue
        out.append(replace(line, new_paragraph=True) if cut and out else line)
        cut = False
    return out
