"""The pages of a PDF that have no text layer, read by OCR (see :mod:`.ocr`) within the
document's caps: at most :data:`~rag.loaders.ocr.MAX_OCR_PAGES` pages and
:data:`~rag.loaders.ocr.MAX_OCR_S` seconds of OCR; pages past either are left unread and
the report says so."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rag.loaders import ocr
from rag.loaders.common import ParseOptions
from rag.loaders.ocr import OcrPage, page_list
from rag.loaders.pdf_layout import PageLines, clean_pdf_text, plain_lines

log = logging.getLogger(__name__)


@dataclass
class OcrOutcome:
    """What OCR did to a document's pages."""

    found: dict[int, OcrPage]  # 0-based index: the pages where OCR found text
    language: str  # the Tesseract language(s) used, e.g. "spa" or "spa+eng"
    unread: list[int] = field(default_factory=list)  # 0-based, past a cap: not OCR'd
    warnings: list[str] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """Mean word confidence over the pages with text, 0-100."""
        return sum(r.confidence for r in self.found.values()) / len(self.found) \
            if self.found else 0.0


def _were(pages: list[int]) -> str:
    return "was" if len(pages) == 1 else "were"


def ocr_missing(pdf: Any, pages: list[PageLines | None], silent: set[int],
                options: ParseOptions) -> OcrOutcome | None:
    """OCR of the pages that show something but have no text; those it reads get its text.
    None when OCR did not run (nothing to read, turned off, or no Tesseract)."""
    missing = [i for i, p in enumerate(pages)
               if (p is None or not p.text().strip()) and i + 1 not in silent]
    if not missing or options.ocr == "off":
        return None
    cap = ocr.MAX_OCR_PAGES
    sample = " ".join(p.text() for p in pages if p is not None)[:20_000]
    progress = options.progress
    try:
        found, language = ocr.ocr_pages(
            pdf, missing[:cap], options.ocr, sample,
            (lambda d, t: progress("ocr", d, t)) if progress else None)
    except LookupError:
        log.info("no Tesseract: %d pages without text stay unread", len(missing))
        return None
    for index, result in found.items():
        text = clean_pdf_text(result.text)
        pages[index] = PageLines(plain_lines(text)) if text else pages[index]
    outcome = OcrOutcome({i: r for i, r in found.items() if clean_pdf_text(r.text)}, language)
    if outcome.found:
        read = sorted(i + 1 for i in outcome.found)
        outcome.warnings.append(
            f"{page_list(read)} had no text layer and {_were(read)} read by OCR (language "
            f"{language}, mean confidence {outcome.confidence:.0f}%)")
    late = [i + 1 for i in missing[:cap] if i not in found]  # past the time budget
    if late:
        outcome.warnings.append(f"{page_list(late)} {_were(late)} not read by OCR: at most "
                                f"{ocr.MAX_OCR_S / 60:g} minutes of OCR a document")
    over = [i + 1 for i in missing[cap:]]
    if over:
        outcome.warnings.append(f"{page_list(over)} {_were(over)} not read by OCR: at most "
                                f"{cap} pages a document")
    outcome.unread = [p - 1 for p in late + over]
    if outcome.unread:
        log.info("%d pages without text were not read by OCR (caps: %d pages, %g s)",
                    len(outcome.unread), cap, ocr.MAX_OCR_S)
    return outcome
