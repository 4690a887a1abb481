"""What a parse worker sends back, read as untrusted input: every field is checked before
it becomes a :class:`~rag.schema.LoadedDocument` or the engine error the worker reported
(see :mod:`rag.sandbox` for the protocol)."""

from __future__ import annotations

import hashlib
import json

from rag import errors as rag_errors
from rag.errors import CorruptFileError, DocumentError, RagError
from rag.loaders import LOADERS
from rag.schema import LoadedDocument, Section

# Every engine error by name, so the worker's error comes back as the same class and code.
_ERRORS: dict[str, type[RagError]] = {
    name: cls for name, cls in vars(rag_errors).items()
    if isinstance(cls, type) and issubclass(cls, RagError)}


def progress_of(line: bytes | None) -> tuple[str, int, int] | None:
    """A progress line's (stage, done, total); None for anything else (the reply)."""
    message = parse_json(line) if line is not None and line.startswith(b'{"progress"') else None
    step = message.get("progress") if isinstance(message, dict) else None
    if (isinstance(step, list) and len(step) == 3 and step[0] == "ocr"
            and all(type(v) is int and 0 <= v <= 100_000 for v in step[1:])):
        return "ocr", step[1], step[2]
    return None


def parse_json(line: bytes) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return None


def document_of(reply: object, name: str, data: bytes) -> LoadedDocument:
    """The worker's reply, checked field by field, as a document or the error it reports."""
    if isinstance(reply, dict) and reply.get("ok") is True:
        kind, pages, warnings = reply.get("kind"), reply.get("pages"), reply.get("warnings")
        items = reply.get("sections")
        if (kind in LOADERS and type(pages) is int and isinstance(warnings, list)
                and all(isinstance(w, str) for w in warnings) and isinstance(items, list)
                and items and all(_is_section(i) for i in items)):
            ocr_pages, confidence = _ocr_report(reply.get("ocr"), pages)
            return LoadedDocument(file_name=name, kind=kind, pages=pages, warnings=warnings,
                                  sections=[Section(i[0], i[1], i[2]) for i in items],
                                  content_hash=hashlib.sha256(data).hexdigest(),
                                  ocr_pages=ocr_pages, ocr_confidence=confidence)
    if not isinstance(reply, dict) or reply.get("ok") is not False:
        raise CorruptFileError(f"{name} could not be read: the document reader gave no "
                               "usable answer.", name=name)
    error = _ERRORS.get(str(reply.get("error")), DocumentError)
    message = reply.get("message")
    raw = reply.get("params")
    params = {str(k): v for k, v in raw.items()
              if v is None or isinstance(v, str | int | float)} if isinstance(raw, dict) else {}
    params["name"] = name
    raise error(message if isinstance(message, str) else f"{name} could not be read.", **params)


def _ocr_report(raw: object, pages: int) -> tuple[list[int], float]:
    """The reply's OCR'd pages and their confidence, if well-formed (else none)."""
    if not isinstance(raw, dict):
        return [], 0.0
    found, confidence = raw.get("pages"), raw.get("confidence")
    if (isinstance(found, list) and all(type(p) is int and 1 <= p <= pages for p in found)
            and isinstance(confidence, int | float) and 0 <= confidence <= 100):
        return found, float(confidence)
    return [], 0.0


def _is_section(item: object) -> bool:
    return (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
            and (item[1] is None or type(item[1]) is int) and isinstance(item[2], str))
