"""What the format loaders share: the limits in force, the standard messages and the
control characters that never belong in extracted text."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from rag.errors import FileTooLargeError

CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
DAMAGED = "{} is damaged or incomplete and could not be read."
PROTECTED = "{} is password-protected: remove the password and upload it again."


def strip_line_ends(text: str) -> str:
    """``text`` without spaces or tabs before its line breaks, in linear time (the regex
    ``[ \t]+\n`` rescans a long run of spaces from each of its positions)."""
    return "\n".join(line.rstrip(" \t") for line in text.split("\n"))


def limits() -> ModuleType:
    """The :mod:`rag.loaders` package, whose ``MAX_*`` attributes are the limits in force.
    They are read at call time, so changing e.g. ``rag.loaders.MAX_CHARS`` (tests do)
    applies to every format."""
    import rag.loaders

    return rag.loaders


def too_much_text(file_name: str) -> FileTooLargeError:
    limit = limits().MAX_CHARS
    return FileTooLargeError(f"{file_name} has more than {limit:,} characters of text, "
                             "the limit.", name=file_name, limit=limit)


@dataclass(frozen=True)
class ParseOptions:
    """How to read a file, from the settings: ``ocr`` is ``Settings.ocr`` (``auto``, a
    Tesseract language such as ``spa`` or ``spa+eng``, or ``off``); ``progress`` is called
    with (stage, done, total) while pages are OCR'd."""

    ocr: str = "auto"
    progress: Callable[[str, int, int], None] | None = None


def log_failure(log: logging.Logger, what: str, exc: BaseException,
                expected: tuple[type[BaseException], ...] = ()) -> None:
    """Log a parser failure the user sees as "damaged" or "could not be read": an
    ``expected`` error (what a damaged file raises) at INFO, anything else, which may be a
    bug here or in the parser, at WARNING with its traceback so that it can be found."""
    if isinstance(exc, expected):
        log.info("%s: %s: %s", what, type(exc).__name__, exc)
    else:
        log.warning("%s: unexpected %s: %s", what, type(exc).__name__, exc, exc_info=exc)
