"""Headings of a PDF and the sections they open.

Headings come from the PDF's outline (bookmarks) when it has one: each entry is found on
its page by its title (the printed line may add a number, "2.2. Elige el programa") near
the entry's destination. Without an outline they come from numbered lines ("4.2 Title")
that start a paragraph, in a plausible sequence, and from lines set clearly larger than the
body text. Each heading gets a level; the path of open headings ("2 Primeros pasos > 2.2
Elige el programa") labels every line up to the next heading.
"""

from __future__ import annotations

import collections
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from rag.loaders.common import CONTROL_CHARS, log_failure
from rag.loaders.pdf_layout import Line, PageLines, lines_text

log = logging.getLogger(__name__)

MAX_OUTLINE_ENTRIES = 5000
MAX_TITLE_CHARS = 200
PATH_SEPARATOR = " > "

_NUMBER = r"(?:\d{1,2}(?:\.\d{1,3}){0,5}|[A-Z](?:\.\d{1,3}){1,5})"
_NUMBERED = re.compile(rf"^({_NUMBER})\.?\s+(\S.{{0,150}})$")
_CHAPTER = re.compile(r"^(?:cap[ií]tulo|chapter|ap[eé]ndice|appendix|parte|part)\s+(\w{1,8})\.?$",
                      re.IGNORECASE)


@dataclass(frozen=True)
class OutlineEntry:
    level: int  # 1 = top
    title: str
    page: int  # 0-based page index
    top: float | None  # the destination's y (points from the bottom), if it has one


@dataclass(frozen=True)
class Heading:
    page: int
    line: int  # index of the line the heading starts at (its own lines are not body text)
    level: int
    title: str
    lines: int = 1  # lines of the page it takes (0: the heading is not printed there)


def read_outline(pdf: Any) -> list[OutlineEntry]:
    """The PDF's bookmarks that point at one of its pages (those read before a failure if
    they are unreadable: pdfium's errors are a damaged outline, logged at INFO; anything
    else may be a bug, logged at WARNING with its traceback)."""
    from pypdfium2 import PdfiumError

    entries: list[OutlineEntry] = []
    try:
        for bookmark in pdf.get_toc(max_depth=8):
            if len(entries) >= MAX_OUTLINE_ENTRIES:
                break
            dest = bookmark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = _clean_title(bookmark.get_title() or "")
            if index is None or not title or not 0 <= index < len(pdf):
                continue
            top = None
            try:
                _, view = dest.get_view()
                if len(view) >= 2 and view[1] and view[1] > 0:
                    top = float(view[1])
            except (PdfiumError, ValueError, TypeError):  # no usable coordinates: top of page
                top = None
            entries.append(OutlineEntry(bookmark.level + 1, title, index, top))
    except Exception as exc:  # a damaged outline is not worth failing the file
        log_failure(log, "unreadable PDF outline", exc, (PdfiumError,))
    return entries


def _clean_title(text: str) -> str:
    text = re.sub(r"\s+", " ", CONTROL_CHARS.sub("", text)).strip()
    return text[:MAX_TITLE_CHARS]


def _key(text: str) -> str:
    return "".join(re.findall(r"\w+", text.lower()))


def _strip_number(text: str) -> tuple[str, str]:
    """("2.2", "Elige el programa") for "2.2. Elige el programa"; ("", text) otherwise."""
    m = _NUMBERED.match(text.strip())
    return (m.group(1), m.group(2)) if m else ("", text.strip())


# ---- from the outline --------------------------------------------------------------------


def _find_title(page: PageLines, entry: OutlineEntry, start: int) -> tuple[int, int, str] | None:
    """(first line, lines, number) of the entry's title on its page, at or after ``start``."""
    want = _key(entry.title)
    if not want:
        return None
    best: tuple[float, int, int, str] | None = None
    for i in range(start, len(page.lines)):
        number, rest = _strip_number(page.lines[i].text)
        got = _key(rest)
        if not got or not want.startswith(got):
            continue
        span = 1
        while got != want and span < 3 and i + span < len(page.lines):
            got += _key(page.lines[i + span].text)
            span += 1
        if got != want:
            continue
        line = page.lines[i]
        distance = abs(entry.top - line.top) if entry.top and line.top is not None else 0.0
        if best is None or distance < best[0]:
            best = (distance, i, span, number)
    return best[1:] if best else None


def _first_below(page: PageLines, top: float | None, start: int) -> int:
    if top is None:
        return start
    for i in range(start, len(page.lines)):
        line_top = page.lines[i].top
        if line_top is None or line_top <= top + 2:
            return i
    return len(page.lines)


def outline_headings(pages: list[PageLines], outline: list[OutlineEntry]) -> list[Heading]:
    """Headings placed where the outline's entries are printed."""
    headings: list[Heading] = []
    order = sorted(range(len(outline)), key=lambda k: (outline[k].page,
                                                        -(outline[k].top or 1e9), k))
    cursor = collections.defaultdict(int)  # per page: where the next search starts
    for k in order:
        entry = outline[k]
        if entry.page >= len(pages):
            continue
        page = pages[entry.page]
        begin = _first_below(page, entry.top, cursor[entry.page])
        found = _find_title(page, entry, cursor[entry.page])
        if found is None:
            headings.append(Heading(entry.page, begin, entry.level, entry.title, 0))
            cursor[entry.page] = begin
            continue
        line, span, number = found
        first = line
        # A chapter label above the title ("Capítulo 2", "CHAPTER / TWO") belongs to it.
        while first > begin and first - line < 3 and len(page.lines[first - 1].text) <= 25 \
                and (_CHAPTER.match(page.lines[first - 1].text.strip())
                     or (page.lines[first - 1].text.strip().isalpha()
                         and page.lines[first - 1].text.strip().isupper())):
            first -= 1
            label = _CHAPTER.match(page.lines[first].text.strip())
            if label and not number and label.group(1).isdigit():
                number = label.group(1)
        title = f"{number} {entry.title}" if number and not entry.title.startswith(number) \
            else entry.title
        headings.append(Heading(entry.page, first, entry.level, title, line + span - first))
        cursor[entry.page] = line + span
    return headings


# ---- from the text -----------------------------------------------------------------------


def _body_size(pages: list[PageLines]) -> float:
    sizes: collections.Counter[float] = collections.Counter()
    for page in pages:
        for line in page.lines:
            if line.size:
                sizes[round(line.size * 2) / 2] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _parts(number: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else ord(p) - ord("A") + 1000 for p in number.split("."))


def _follows(prev: tuple[int, ...] | None, cur: tuple[int, ...]) -> bool:
    """Whether ``cur`` can be the next heading number after ``prev`` (one may be missed)."""
    if prev is None:
        return all(p <= 2 for p in cur[1:])
    if cur[: len(prev)] == prev and len(cur) == len(prev) + 1 and cur[-1] <= 2:
        return True
    for j in range(min(len(prev), len(cur))):
        if cur[j] != prev[j]:
            return cur[:j] == prev[:j] and 1 <= cur[j] - prev[j] <= 2 and all(
                p <= 2 for p in cur[j + 1:])
    return False


def _looks_like_title(text: str) -> bool:
    return (len(text) <= 120 and any(c.isalpha() for c in text[:3])
            and not text.rstrip().endswith((",", ";", ":")))


def text_headings(pages: list[PageLines]) -> list[Heading]:
    """Headings from numbered lines and from larger type (documents without an outline)."""
    body = _body_size(pages)
    headings: list[Heading] = []
    previous: tuple[int, ...] | None = None
    big: list[tuple[int, int, float]] = []  # (page, line, size) of unnumbered large lines
    for p, page in enumerate(pages):
        for i, line in enumerate(page.lines):
            text = line.text.strip()
            starts = i == 0 or line.new_paragraph
            ends = i + 1 == len(page.lines) or page.lines[i + 1].new_paragraph
            larger = bool(body and line.size >= body * 1.1)
            label = _CHAPTER.match(text)
            if label and starts and i + 1 < len(page.lines) and (larger or line.bold):
                title = page.lines[i + 1].text.strip()
                if _looks_like_title(title) and not _NUMBERED.match(title):
                    number = label.group(1) if label.group(1).isdigit() else ""
                    previous = (int(number),) if number else previous
                    headings.append(Heading(p, i, 1, f"{number} {title}".strip(), 2))
                    continue
            m = _NUMBERED.match(text)
            if m and starts and _looks_like_title(m.group(2)) and m.group(2)[0].isupper():
                parts = _parts(m.group(1))
                strong = larger or line.bold
                if (strong or (len(parts) >= 2 and ends and len(text) <= 90)) \
                        and _follows(previous, parts) and not text.endswith("."):
                    previous = parts
                    headings.append(Heading(p, i, len(parts), f"{m.group(1)} {m.group(2)}"))
                    continue
            if body and line.size >= body * 1.2 and starts and _looks_like_title(text) \
                    and not text.endswith("."):
                big.append((p, i, round(line.size * 2) / 2))
    if big:
        ranks = {s: r for r, s in enumerate(sorted({b[2] for b in big}, reverse=True), 1)}
        taken = {(h.page, h.line + k) for h in headings for k in range(h.lines)}
        chapters = bool(headings)  # beside numbered headings, a big title is a chapter's
        for p, i, size in big:
            if (p, i) not in taken:
                headings.append(Heading(p, i, 1 if chapters else ranks[size],
                                        pages[p].lines[i].text.strip()))
        headings.sort(key=lambda h: (h.page, h.line))
        headings = _merge_wrapped(pages, headings)
    return headings


def _merge_wrapped(pages: list[PageLines], headings: list[Heading]) -> list[Heading]:
    """A large title wrapped over two lines is one heading."""
    out: list[Heading] = []
    for h in headings:
        last = out[-1] if out else None
        if (last and last.page == h.page and last.line + last.lines == h.line
                and last.level == h.level and not _NUMBERED.match(h.title)
                and not pages[h.page].lines[h.line].new_paragraph):
            out[-1] = Heading(last.page, last.line, last.level, f"{last.title} {h.title}",
                              last.lines + 1)
        else:
            out.append(h)
    return out


# ---- sections ----------------------------------------------------------------------------


def split_sections(pages: list[PageLines], headings: list[Heading],
                   page_numbers: list[int]) -> list[tuple[str, int, str]]:
    """(text, page number, heading path) for each run of body lines under one heading
    path on one page; heading lines themselves are left out of the text."""
    at: dict[tuple[int, int], list[Heading]] = collections.defaultdict(list)
    for h in headings:
        at[h.page, h.line].append(h)
    path: list[tuple[int, str]] = []
    out: list[tuple[str, int, str]] = []
    for p, page in enumerate(pages):
        runs: list[tuple[str, list[Line]]] = [(_path_text(path), [])]
        skip = 0
        for i in range(len(page.lines) + 1):
            for h in at.get((p, i), []):
                while path and path[-1][0] >= h.level:
                    path.pop()
                path.append((h.level, h.title.replace(PATH_SEPARATOR, " - ")))
                runs.append((_path_text(path), []))
                skip = max(skip, h.lines)
            if i == len(page.lines):
                break
            if skip:
                skip -= 1
                continue
            runs[-1][1].append(page.lines[i])
        for heading, body in runs:
            if body and body[0].new_paragraph:
                body[0] = replace(body[0], new_paragraph=False)
            text = lines_text(body).strip()
            if text:
                out.append((text, page_numbers[p], heading))
    return out


def _path_text(path: list[tuple[int, str]]) -> str:
    return PATH_SEPARATOR.join(title for _, title in path)
