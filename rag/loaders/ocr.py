"""OCR of PDF pages that have no text layer: pypdfium2 renders the page, Tesseract reads it.

Tesseract is called through ``tesserocr`` (its C++ API, in process) rather than
``pytesseract`` (one ``tesseract`` command per page): the page image goes to Tesseract
without a temporary file, the language model loads once per document instead of once per
page, and OCR runs inside the sandbox worker itself, under its memory limit and killed with
it on a timeout (a child ``tesseract`` process would outlive a killed worker). The language
data is Debian's (``tesseract-ocr-spa``, ``tesseract-ocr-eng``); without it, or without
``tesserocr``, scanned pages keep the "no text layer" message.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RENDER_DPI = 300  # Tesseract's own recommendation; lower costs accuracy on small print
MAX_RENDER_PIXELS = 40_000_000
"""A page is rendered at :data:`RENDER_DPI` unless that takes more pixels than this (an A4
page at 300 dpi is 8.7 million); a larger page (a plan, a poster: A0 is 140 million at 300
dpi) gets a lower resolution, so that the worker's memory cap still fits it."""
MAX_OCR_PAGES = 300
"""Most pages OCR'd in one document: the pages past it are left unread (and reported).
Each OCR'd page extends the worker's time limit, so without a cap a 5,000-page scan would
hold a worker for hours."""
MAX_OCR_THREADS = 4
"""Most pages of one document read at once (see :func:`ocr_threads`)."""
MAX_OCR_S = 1800.0
"""Most seconds of OCR for one document: no page is started after it (the rest are left
unread, and reported)."""
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                 "/usr/share/tessdata", "/usr/local/share/tessdata",
                 "/opt/homebrew/share/tessdata")
LANGUAGES = {"es": "spa", "en": "eng"}  # rag.language codes -> Tesseract's
DETECT = "spa+eng"  # read the first page with both, then keep the one the text is in

OcrProgress = Callable[[int, int], None]  # (pages done, pages to do)


@dataclass(frozen=True)
class OcrPage:
    text: str
    confidence: float  # Tesseract's mean word confidence, 0-100


def tessdata() -> tuple[str, set[str]] | None:
    """(language data folder, its languages), or None when Tesseract cannot run here."""
    try:
        import tesserocr
    except ImportError:
        return None
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *TESSDATA_DIRS]
    for folder in filter(None, candidates):
        path = Path(folder)
        languages = {p.stem for p in path.glob("*.traineddata")} if path.is_dir() else set()
        if languages - {"osd", "equ"}:
            return str(path) + os.sep, languages
    try:
        path, found = tesserocr.get_languages()
    except Exception:  # a broken install: no OCR
        return None
    return (path, set(found)) if set(found) - {"osd", "equ"} else None


def pick_language(setting: str, sample: str, installed: set[str]) -> str:
    """The Tesseract language(s) for a document: the setting unless it is ``auto``; then
    the language of the document's own text (``sample``), or :data:`DETECT` when it has
    none. Languages that are not installed are dropped (``eng`` is the last resort)."""
    from rag.language import detect_language

    if setting == "auto":
        words = sample.split()
        setting = LANGUAGES[detect_language(sample)] if len(words) >= 30 else DETECT
    wanted = [lang for lang in setting.split("+") if lang in installed]
    return "+".join(wanted) or ("eng" if "eng" in installed else sorted(installed)[0])


class PageReader:
    """One Tesseract engine for a document's pages."""

    def __init__(self, folder: str, language: str) -> None:
        import tesserocr

        self.language = language
        self._api = tesserocr.PyTessBaseAPI(path=folder, lang=language,
                                            psm=tesserocr.PSM.AUTO)

    def read(self, image: Any) -> OcrPage:
        self._api.SetImage(image)
        text = self._api.GetUTF8Text() or ""
        confidence = float(self._api.MeanTextConf()) if text.strip() else 0.0
        self._api.Clear()
        return OcrPage(text, max(0.0, confidence))

    def close(self) -> None:
        self._api.End()


def render_scale(width_pt: float, height_pt: float, dpi: int = RENDER_DPI) -> float:
    """Pixels per point for a page: ``dpi`` / 72, or less where that would take more than
    :data:`MAX_RENDER_PIXELS`."""
    scale, area = dpi / 72, width_pt * height_pt
    if area > 0 and area * scale * scale > MAX_RENDER_PIXELS:
        scale = math.sqrt(MAX_RENDER_PIXELS / area)
    return scale


def render(page: Any, dpi: int = RENDER_DPI) -> Any:
    """The page as a greyscale PIL image at ``dpi``, or at the resolution that keeps it
    within :data:`MAX_RENDER_PIXELS`."""
    width, height = page.get_size()
    scale = render_scale(width, height, dpi)
    if scale < dpi / 72:
        log.info("a %.0f x %.0f pt page is rendered at %.0f dpi", width, height, scale * 72)
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        return bitmap.to_pil().copy()
    finally:
        bitmap.close()


class _Readers:
    """Tesseract engines for one language, one per thread that reads at a time."""

    def __init__(self, folder: str, language: str) -> None:
        self.folder, self.language = folder, language
        self._idle: queue.SimpleQueue[PageReader] = queue.SimpleQueue()
        self._all: list[PageReader] = []
        self._lock = threading.Lock()

    def read(self, image: Any) -> OcrPage:
        try:
            reader = self._idle.get_nowait()
        except queue.Empty:
            reader = PageReader(self.folder, self.language)
            with self._lock:
                self._all.append(reader)
        try:
            return reader.read(image)
        finally:
            self._idle.put(reader)

    def close(self) -> None:
        for reader in self._all:
            reader.close()


def ocr_threads() -> int:
    """Pages read at once: one per core, up to :data:`MAX_OCR_THREADS` (Tesseract itself
    runs one thread per page: ``OMP_THREAD_LIMIT=1`` in the worker)."""
    return max(1, min(os.cpu_count() or 1, MAX_OCR_THREADS))


def _rendered(pdf: Any, index: int) -> Any:
    page = pdf[index]
    try:
        return render(page)
    finally:
        page.close()


def ocr_pages(pdf: Any, indexes: list[int], setting: str, sample: str,
              progress: OcrProgress | None = None) -> tuple[dict[int, OcrPage], str]:
    """OCR of the pages at ``indexes`` of a pypdfium2 document: ({index: page}, language).
    With ``auto`` and no text to go by, pages are read one by one in Spanish and English
    until one has enough words to settle the language; the rest :func:`ocr_threads` at a
    time: pdfium renders them one by one in this thread (it is not thread-safe), Tesseract
    reads them in parallel (it releases the GIL). No page is started once
    :data:`MAX_OCR_S` seconds have gone by: those are missing from the result. Raises
    :class:`LookupError` when Tesseract is not available."""
    found = tessdata()
    if found is None:
        raise LookupError("Tesseract is not installed")
    folder, installed = found
    language = pick_language(setting, sample, installed)
    done: dict[int, OcrPage] = {}
    report = progress or (lambda _done, _total: None)
    report(0, len(indexes))
    if not indexes:
        return done, language
    started = time.monotonic()
    readers = _Readers(folder, language)
    position = 0
    try:
        while language == DETECT and position < len(indexes) - 1:
            # one page at a time until one has enough words to tell the language
            if done and time.monotonic() - started > MAX_OCR_S:
                break
            result = done[indexes[position]] = readers.read(_rendered(pdf, indexes[position]))
            position += 1
            report(len(done), len(indexes))
            if len(result.text.split()) >= 30:
                readers.close()
                language = pick_language("auto", result.text, installed)
                readers = _Readers(folder, language)
        threads = ocr_threads()
        with ThreadPoolExecutor(threads, thread_name_prefix="ocr") as pool:
            pending: dict[Future[OcrPage], int] = {}

            def collect(until: int) -> None:
                while len(pending) > until:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done[pending.pop(future)] = future.result()
                        report(len(done), len(indexes))

            for index in indexes[position:]:
                if done and time.monotonic() - started > MAX_OCR_S:
                    log.info("OCR stopped after %.0f s: %d pages left", MAX_OCR_S,
                             len(indexes) - len(done) - len(pending))
                    break
                pending[pool.submit(readers.read, _rendered(pdf, index))] = index
                collect(until=threads)  # at most one page waits, rendered, for a reader
            collect(until=0)
    finally:
        readers.close()
    for index, result in sorted(done.items()):
        log.info("OCR page %d (%s): confidence %.0f", index + 1, language, result.confidence)
    return done, language


def page_list(pages: list[int]) -> str:
    """"page 3", "pages 1-4, 7"."""
    runs: list[list[int]] = []
    for p in pages:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    text = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)
    return f"page {text}" if len(pages) == 1 else f"pages {text}"
