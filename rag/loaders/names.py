"""Safe display/storage names for uploaded files: no path, no control characters, bounded
length. An upload called ``../../etc/passwd`` is stored as ``passwd``."""

from __future__ import annotations

import re
import unicodedata

from rag.errors import InvalidNameError, InvisibleNameError
from rag.loaders.common import limits

# Letters and symbols that render as nothing (Hangul fillers, Braille blank, Khmer vowels
# inherent, combining grapheme joiner): a name made only of them looks empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u034f\u180b"
                           "\u180c\u180d\u180f\ufe00\ufe0f")


def visible(text: str) -> bool:
    """Whether ``text`` has a character that shows on screen."""
    return any(not c.isspace() and unicodedata.category(c)[0] not in "CZM"
               and c not in _BLANK_LETTERS for c in text)


def extension(file_name: str) -> str:
    """The lower-case extension with its dot ('.pdf'), or '' (also for '.bashrc')."""
    stem, dot, ext = file_name.rpartition(".")
    return ("." + ext.lower()) if dot and stem else ""


def safe_file_name(name: str) -> str:
    """A display/storage name: the basename, no control characters, at most 120 chars."""
    text = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    stem = text.rpartition(".")[0] if "." in text else text
    if stem and not visible(stem) and visible(text):
        shown = text.encode("ascii", "backslashreplace").decode("ascii")
        raise InvisibleNameError(f"{shown}: the name has no visible characters; rename the "
                                 "file and upload it again.", name=shown)
    text = "".join(c for c in re.sub(r"\s+", " ", re.sub(r"^[A-Za-z]:", "", text))
                   if not unicodedata.category(c).startswith("C"))
    text = re.sub(r'[<>:"|?*]', "_", re.sub(" +", " ", text)).strip().rstrip(". ")
    max_chars = limits().MAX_NAME_CHARS
    if len(text) > max_chars:
        ext = extension(text)
        ext = text[-len(ext):] if 1 < len(ext) <= 10 else ""
        text = text[: max_chars - len(ext)].rstrip(". ") + ext
    if not text.strip(". "):
        raise InvalidNameError(f"{name!r} is not a usable file name.", name=str(name))
    return text


def typed_as(raw: str, safe: str) -> bool:
    """True when ``safe`` (from :func:`safe_file_name`) is the name exactly as given, apart
    from a folder path: not one that only became equal through cleaning (Unicode NFC/NFD
    forms, invisible characters, replaced punctuation)."""
    return str(raw).replace("\\", "/").rsplit("/", 1)[-1].strip() == safe


def numbered_name(name: str, taken: set[str]) -> str:
    """``name`` with the lowest free number: ``informe (2).txt``, ``informe (3).txt``..."""
    ext = extension(name)
    ext = name[len(name) - len(ext):] if ext else ""
    stem = name[: len(name) - len(ext)]
    number = 2
    while True:
        suffix = f" ({number}){ext}"
        candidate = stem[: limits().MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
        if candidate not in taken:
            return candidate
        number += 1
