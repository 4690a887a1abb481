"""Turn uploaded bytes into text sections: PDF (pypdfium2, pypdf as fallback), DOCX
(python-docx), plain text and Markdown. The real type is checked from the content, and every
failure is a :class:`~rag.errors.DocumentError` whose message says what to do.

- :mod:`~rag.loaders.names`: safe file names; :mod:`~rag.loaders.kinds`: the real type;
- :mod:`~rag.loaders.pdf`, :mod:`~rag.loaders.docx`, :mod:`~rag.loaders.text`: the formats;
- :mod:`~rag.loaders.common`: shared messages and the limits below.

These functions parse in the calling process. The app parses uploads through
:mod:`rag.sandbox`, which runs :func:`load_bytes` in a worker process with a time and
memory limit, so a hostile file cannot take the app down.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from rag.errors import NoTextError
from rag.invisible import strip_invisible
from rag.loaders.common import ParseOptions
from rag.loaders.docx import load_docx
from rag.loaders.kinds import detect_kind
from rag.loaders.names import safe_file_name
from rag.loaders.pdf import clean_pdf_text, load_pdf, read_pdf
from rag.loaders.text import decode_text, load_md, load_txt
from rag.schema import LoadedDocument, Section

__all__ = ["LOADERS", "MAX_CHARS", "MAX_NAME_CHARS", "MAX_PAGES", "MAX_UNZIPPED_BYTES",
           "SUPPORTED_EXTENSIONS", "Loader", "ParseOptions", "clean_pdf_text", "decode_text",
           "detect_kind", "load_bytes", "load_docx", "load_file", "load_md", "load_pdf", "load_txt",
           "safe_file_name"]

# The limits: the format modules read them from here at call time (see common.limits).
SUPPORTED_EXTENSIONS = (".pdf", ".docx", ".docm", ".txt", ".md")
MAX_PAGES = 5000
MAX_CHARS = 20_000_000
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_NAME_CHARS = 120

Loader = Callable[[bytes, str], tuple[list[Section], int, list[str]]]
LOADERS: dict[str, Loader] = {"pdf": load_pdf, "docx": load_docx, "txt": load_txt, "md": load_md}


def load_bytes(data: bytes, file_name: str,
               options: ParseOptions | None = None) -> LoadedDocument:
    """Check, parse and clean one uploaded file; raises a DocumentError subclass."""
    name = safe_file_name(file_name)
    kind, notes = detect_kind(data, name)
    ocr_pages, ocr_confidence = [], 0.0
    if kind == "pdf":
        pdf = read_pdf(data, name, options)
        sections, pages, warnings = pdf.sections, pdf.pages, pdf.warnings
        ocr_pages, ocr_confidence = pdf.ocr_pages, pdf.ocr_confidence
    else:
        sections, pages, warnings = LOADERS[kind](data, name)
    sections = [Section(text, s.page, strip_invisible(s.heading)) for s in sections
                if (text := strip_invisible(s.text).strip())]
    if not sections:
        raise NoTextError(f"{name} contains no text.", name=name)
    return LoadedDocument(file_name=name, kind=kind, sections=sections,
                          content_hash=hashlib.sha256(data).hexdigest(), pages=pages,
                          warnings=[*notes, *warnings], ocr_pages=ocr_pages,
                          ocr_confidence=ocr_confidence)


def load_file(path: str | os.PathLike[str], display_name: str | None = None) -> LoadedDocument:
    """Load a file from disk; ``display_name`` (e.g. the uploaded name) replaces its name."""
    path = Path(path)
    return load_bytes(path.read_bytes(), display_name or path.name)
