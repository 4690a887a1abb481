"""What the command line reads from the person: arguments, files named by options, and the
checks that turn bad input into one clear ``error:`` line (never a traceback or an
absolute path)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from rag import shared
from rag.errors import DocumentNotFoundError
from rag.schema import Turn


class UsageError(Exception):
    """A bad argument or input file: printed as ``error: ...``, exit status 2."""


def read_text(path: str, option: str) -> str:
    """A UTF-8 text file given on the command line, or a :class:`UsageError` naming it as
    the person wrote it (never a traceback or an absolute path)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or 'cannot be read'}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option} {path} is not UTF-8 text (invalid byte at position "
                         f"{exc.start}).") from None


def check_documents(service, names: list[str] | None) -> None:
    """``--doc`` names must be documents of the library, or of the shared library
    (``shared/NAME``, as the app's document filter names them) when it is searched."""
    known = {d.name for d in service.list_documents()}
    if getattr(service, "shared", None) is not None:
        known |= {shared.PREFIX + d.name for d in service.shared.list_documents()}
    missing = [n for n in names or [] if n not in known]
    if missing:
        raise DocumentNotFoundError(
            f"There is no document {', '.join(map(repr, missing))} in the library "
            f"'{service.settings.library}' (see: python -m rag list).", name=missing[0])


def read_history(path: str) -> list:
    try:
        raw = json.loads(read_text(path, "--history"))
        if not isinstance(raw, list):
            raise TypeError
        return [Turn(role=str(t["role"]), content=str(t["content"])) for t in raw
                if t["role"] in ("user", "assistant")]
    except (ValueError, TypeError, KeyError):
        raise UsageError(f"--history {path} must be a JSON list of "
                         '{"role": "user" | "assistant", "content": "..."} objects.') from None


def display_name(path: Path) -> str:
    """The file's name as text, whatever bytes it is made of."""
    return os.fsencode(path.name).decode("utf-8", errors="replace")


def positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {raw!r}")
    return value


def invalid_utf8(argv: Sequence[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python keeps such bytes as lone
    surrogates, which fail later, far from the cause)."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return arg.encode("utf-8", errors="surrogateescape").decode("utf-8", "replace")
    return None
