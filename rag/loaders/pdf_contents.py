"""Tables of contents in PDFs: pages that are a table of contents (or a list of tables or
figures) are kept out of the index, and smaller blocks of leader-dot entries are dropped
from other pages.

A line shaped like an entry ("2.2 Elige el programa 7") is not evidence enough on its own:
an invoice's items ("1 Servicio de consultoría 1200") and a contract's clauses look the same.
A page is a table of contents when its entries have leader dots, or name the PDF outline's
titles, or sit under a contents title ("Índice", "Contents"...), or continue the previous
page's table, or (with no other clue) read as section numbers with page numbers that fit
the document: non-decreasing, none past its last page.
"""

from __future__ import annotations

import itertools
import re

from rag.loaders.pdf_layout import Line, PageLines, page_like, without

_PAGE_REF = r"(\d{1,4}|[IVXLCDM]{1,8}|[ivxlcdm]{1,8})"  # checked with page_like()
_LEADERS = re.compile(rf"\S.*?(?:\s*[.·…]\s*){{4,}}\s*{_PAGE_REF}\s*$")
_NUMBER = r"(?:\d{1,2}(?:\.\d{1,3})*\.?|[A-Z]\.(?:\d{1,3}\.?)*)"
_NUMBERED_ENTRY = re.compile(rf"^({_NUMBER})\s+\S.*\s{_PAGE_REF}$")
_TRAILING_REF = re.compile(r"[\s.·…]*(?:(\d{1,4})|(?<![^\s.·…])([IVXLCDM]{1,8}|[ivxlcdm]{1,8}))$")
_TOC_TITLE = re.compile(
    r"^(?:índice(?: general| de (?:contenidos?|cuadros|tablas|figuras))?|contenidos?|sumario|"
    r"tabla de contenidos?|(?:table of )?contents|list of (?:tables|figures))$", re.IGNORECASE)


def _norm_title(text: str) -> str:
    """An entry's or outline title's words, without its number and page number."""
    text = re.sub(rf"^{_NUMBER}\s+", "", text.strip())
    m = _TRAILING_REF.search(text)
    if m and page_like(m.group(1) or m.group(2)):
        text = text[: m.start()]
    return "".join(re.findall(r"\w+", text.lower()))


def is_leader_entry(text: str) -> bool:
    """A line with leader dots before a page number ("2.2 Elige . . . . . 7")."""
    m = _LEADERS.match(text.strip())
    return bool(m and page_like(m.group(1)))


def _numbered_entry(text: str) -> tuple[str, str] | None:
    """(section number, page number) of a line shaped like "2.2 Elige el programa 7"."""
    m = _NUMBERED_ENTRY.match(text.strip())
    return (m.group(1), m.group(2)) if m and page_like(m.group(2)) else None


def is_toc_entry(text: str) -> bool:
    """Whether the line is shaped like a contents entry (leader dots, or a section number
    and a trailing page number); shape alone does not make a page a table of contents."""
    return is_leader_entry(text) or _numbered_entry(text) is not None


def _page_sequence(entries: list[tuple[str, str]], n_pages: int) -> bool:
    """Whether numbered entries read as sections with their pages: page numbers that never
    go down and fit the document, and most entries numbered like sections ("2.1")."""
    numbers = [int(page) for _, page in entries if page.isdigit()]
    sections = sum(bool(re.match(r"^\d{1,2}\.\d", number)) for number, _ in entries)
    return (len(numbers) >= 5 and all(1 <= n <= n_pages for n in numbers)
            and all(a <= b for a, b in itertools.pairwise(numbers))
            and sections >= 0.5 * len(entries))


def toc_pages(pages: list[PageLines], outline_titles: list[str]) -> set[int]:
    """Indexes of the pages that are tables of contents (or lists of tables/figures)."""
    titles = {t for t in map(_norm_title, outline_titles) if len(t) >= 4}
    found: set[int] = set()
    for index, page in enumerate(pages):
        texts = [ln.text.strip() for ln in page.lines if ln.text.strip()]
        if not texts:
            continue
        leaders = [is_leader_entry(t) for t in texts]
        numbered = [_numbered_entry(t) for t in texts]
        listed = [bool(titles) and _norm_title(t) in titles for t in texts]
        entries = sum(a or b is not None for a, b in zip(leaders, numbered, strict=True))
        confirmed = sum(a or (b is not None and c)
                        for a, b, c in zip(leaders, numbered, listed, strict=True))
        titled = any(_TOC_TITLE.match(t) for t in texts[:3])
        numbered_only = [e for e in numbered if e is not None]
        half = 0.5 * len(texts)
        if ((sum(leaders) >= 4 and sum(leaders) >= 0.3 * len(texts))
                or (sum(listed) >= 5 and sum(listed) >= half)
                or (confirmed >= 4 and confirmed >= half)
                or (entries >= 3 and titled)
                or (entries >= 3 and entries >= half and index - 1 in found)
                or (len(numbered_only) >= half
                    and _page_sequence(numbered_only, len(pages)))):
            found.add(index)
    return found


def drop_leader_blocks(lines: list[Line], min_run: int = 4) -> list[Line]:
    """``lines`` without runs of ``min_run`` or more leader-dot entries (a chapter's own
    contents, a list of figures)."""
    flags = [is_leader_entry(ln.text) for ln in lines]
    gone: set[int] = set()
    start = 0
    for flag, run in itertools.groupby(flags):
        size = len(list(run))
        if flag and size >= min_run:
            gone.update(range(start, start + size))
        start += size
    return without(lines, gone)
