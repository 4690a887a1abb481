"""Keep prompt markup out of answers: the stop sequences handed to the model, and a
streaming post-filter for whatever gets past them.

Small models echo their prompt: the passages' ``<document id=.. file=..>`` delimiters, role
labels ("user:", "Pregunta:") or a chat template's special tokens (``<|im_end|>``,
``[INST]``, ``<</SYS>>``, ``<|eot_id|>``). Everything from the first such marker on is
echo, never answer: the filter ends the answer there. It holds back only the few
characters that could be the start of a marker, so streaming stays smooth, and a marker
split across pieces is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

STOP_SEQUENCES = [
    "</document", "<document", "</text>", "<text>", "<|", "[INST]", "[/INST]", "<<SYS>>",
    "<</SYS>>", "<start_of_turn>", "<end_of_turn>", "</s>", "\nuser:", "\nUser:",
    "\nassistant:", "\nAssistant:", "\nPregunta:", "\nQuestion:",
]
"""Given to the model: generation stops as soon as it writes one of them."""

_MARKER = re.compile(
    r"""<\s*/?\s*documents?\b            # the passages' delimiters, however spaced
      | ‹\s*/?\s*documents?\b            # ... as escaped inside passages
      | <\s*/?\s*text\s*>                # the summaries' delimiters
      | <\|[^|>\s]{0,40}\|?>?            # ChatML / Llama 3 / Phi tokens: <|im_end|>, <|eot_id|>
      | \[/?INST\] | <</?SYS>>            # Llama 2
      | </?s> | <(?:start|end)_of_turn>   # BOS/EOS, Gemma
      | \n[ \t]*(?:user|assistant|system|usuario|asistente|human|ai|
                 pregunta|question|documents?)[ \t]*:  # role labels on a line of their own
      | \n[ \t]*\#{2,}[ \t]*(?:instruction|response|respuesta)\b
    """, re.IGNORECASE | re.VERBOSE)
_HOLD_BACK = 48
"""Characters kept back while they could still become a marker."""
_MAYBE_START = re.compile(r"[<‹\[\n]")


_LEADING_TAG = re.compile(
    r"\s*(?:<\s*/?\s*(?:documents?|text)\b[^<>\n]{0,300}>|<\|[^|>\s]{0,40}\|>|\[/?INST\]"
    r"|<</?SYS>>|</?s>|<(?:start|end)_of_turn>)", re.IGNORECASE)
"""A whole tag or template token: at the very start of an answer it is dropped (the text
after it may be the answer); anywhere later it ends the answer."""


def _could_grow_into_tag(buffer: str) -> bool:
    """An unfinished tag at the start (``<document id="1" fi``): wait for the rest."""
    return buffer.startswith(("<", "[")) and ">" not in buffer and "]" not in buffer \
        and "\n" not in buffer and len(buffer) < 300


def find_marker(text: str, at_line_start: bool = True) -> int:
    """Where the first marker in ``text`` starts, or -1 (``at_line_start``: ``text``
    begins a line, so a role label at its very start counts)."""
    context = "\n" if at_line_start else " "
    match = _MARKER.search(context + text)
    return -1 if match is None else max(match.start() - 1, 0)


def clean(text: str) -> str:
    """``text`` up to its first marker, stripped."""
    cut = find_marker(text)
    return (text if cut < 0 else text[:cut]).strip()


def _safe_prefix(buffer: str) -> int:
    """How much of ``buffer`` (which holds no whole marker) can be passed on: all of it,
    except from a ``<``, ``[``, ``‹`` or line break in its last characters on."""
    tail_start = max(len(buffer) - _HOLD_BACK, 0)
    last = None
    for match in _MAYBE_START.finditer(buffer, tail_start):
        last = match.start()
        break
    safe = len(buffer) if last is None else last
    return min(safe, len(buffer[:safe].rstrip()))  # trailing spaces wait for the next word


def filter_stream(pieces: Iterable[str]) -> Iterator[str]:
    """``pieces`` with everything from the first marker on removed; stops (and closes)
    the underlying stream there. Leading whitespace is dropped."""
    buffer, at_line_start, yielded = "", True, False
    source = iter(pieces)
    try:
        for piece in source:
            buffer += piece
            if not yielded:
                buffer = buffer.lstrip()
            cut = find_marker(buffer, at_line_start)
            while cut == 0 and not yielded and (lead := _LEADING_TAG.match(buffer)):
                buffer = buffer[lead.end():].lstrip()  # a tag before any text: drop it
                cut = find_marker(buffer, True)
            if cut == 0 and not yielded and _could_grow_into_tag(buffer):
                continue  # an opening tag still arriving
            if cut >= 0:
                if buffer[:cut].rstrip():
                    yield buffer[:cut].rstrip()
                return
            safe = _safe_prefix(buffer)
            if safe:
                yielded = True
                yield buffer[:safe]
                at_line_start = False
                buffer = buffer[safe:]
        tail = buffer.rstrip()
        if tail:
            yield tail
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
