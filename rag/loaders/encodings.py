"""The encoding of a text file: byte-order marks, UTF-32/UTF-16 without one, UTF-8 (also with
a few damaged bytes), Windows-1252 for Western text from Windows, and other legacy encodings
(Shift-JIS, GB18030, Windows-1251, ...) when they can be told apart; otherwise the file is
refused with a message instead of being stored as garbage."""

from __future__ import annotations

import codecs
import re
import unicodedata

from rag.errors import UnknownEncodingError

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
         (codecs.BOM_UTF8, "utf-8", ""), (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
         (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"))
SAMPLE_BYTES = 65536
# Non-ASCII characters short Windows-1252 texts in Western languages are made of.
_WESTERN_LETTERS = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0152\u0153\u0160"
                              "\u0161\u0178\u017d\u017e\u20ac\u201c\u201d\u2018\u2019\u2013\u2014\u2026\u00a1"
                              "\u00bf\u00ab\u00bb\u00b0\u00ba\u00aa\u00b7\u00a0\u00a9\u00ae\u00b4]")
_LABELS = {"cp932": "Shift-JIS", "shift_jis": "Shift-JIS", "shift_jis_2004": "Shift-JIS",
           "gb18030": "GB18030", "gb2312": "GB18030", "gbk": "GB18030", "big5": "Big5",
           "cp949": "EUC-KR", "euc_kr": "EUC-KR", "euc_jp": "EUC-JP", "cp1251": "Windows-1251",
           "koi8_r": "KOI8-R", "cp1253": "Windows-1253", "cp1256": "Windows-1256",
           "cp1255": "Windows-1255", "cp874": "Windows-874", "cp1250": "Windows-1250",
           "utf_16": "UTF-16", "utf_16_le": "UTF-16", "utf_16_be": "UTF-16", "utf_32": "UTF-32",
           "utf_32_le": "UTF-32", "utf_32_be": "UTF-32"}
AMBIGUITY = 0.02  # another reading this close in "chaos" makes the guess unsafe


def _mostly_printable(text: str) -> bool:
    if not text:
        return False
    bad = sum(unicodedata.category(c) in ("Cc", "Cn", "Cs", "Co") and c not in "\t\n\r\f"
              for c in text)
    return bad <= len(text) // 100


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def wide_unicode(data: bytes) -> str | None:
    """The codec of UTF-32 or UTF-16 text without a byte-order mark, told by where its zero
    bytes fall (ASCII and Latin letters have them in the high bytes), or None."""
    sample = data[:SAMPLE_BYTES]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return None
    for codec, width in (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2)):
        if len(data) % width:
            continue
        cut = sample[: len(sample) - len(sample) % width]
        lanes = [cut[i::width] for i in range(width)]
        zeros = [lane.count(0) / max(len(lane), 1) for lane in lanes]
        high = zeros[width - 1] if codec.endswith("le") else zeros[0]
        low = zeros[0] if codec.endswith("le") else zeros[width - 1]
        if high > 0.9 and low < 0.5 and (text := _strict(cut, codec)) \
                and _mostly_printable(text):
            return codec
    return None


def _utf8_with_damage(data: bytes) -> tuple[str, int] | None:
    """UTF-8 text with a few invalid bytes: (text with U+FFFD, count), when its valid
    multi-byte characters are at least as many as the invalid bytes (Windows-1252 text has
    almost none)."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    valid = sum(ord(c) > 127 for c in text) - text.count("\ufffd")
    return (text, bad) if valid >= bad else None


def _western(data: bytes, letters_only: bool = False) -> tuple[str, str] | None:
    """(text, label) as Windows-1252, or Latin-1 where a byte is undefined in Windows-1252;
    with ``letters_only``, its non-ASCII characters must all be accented letters or
    typographic punctuation."""
    text, label = _strict(data, "cp1252"), "Windows-1252"
    if text is None:
        text, label = data.decode("latin-1"), "Latin-1 (ISO-8859-1)"
    if letters_only and not all(_WESTERN_LETTERS.match(c) for c in text if ord(c) > 127):
        return None
    return text, label


def _detected(data: bytes) -> tuple[str, str] | None:
    """(text, label) from charset-normalizer when exactly one language's reading is clean."""
    from charset_normalizer import from_bytes

    results = list(from_bytes(data[: 4 * SAMPLE_BYTES]))
    if not results:
        return None
    best = results[0]
    rivals = [r for r in results[1:] if r.chaos <= best.chaos + AMBIGUITY
              and r.language != best.language]
    if best.chaos > 0.2 or rivals or best.encoding in ("utf_8", "ascii"):
        return None
    text = _strict(data, best.encoding)
    if text is None:
        return None
    return text, _LABELS.get(best.encoding, best.encoding.replace("_", "-").upper())


def decode_text(data: bytes, file_name: str = "") -> tuple[str, str]:
    """(text, encoding label); the label is '' for UTF-8. Raises UnknownEncodingError when
    the bytes are not UTF-8 and no other encoding reads them unambiguously."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace"), label
    if codec := wide_unicode(data):
        return data.decode(codec), codec[:6].upper() + " (no BOM)"
    if (text := _strict(data, "utf-8")) is not None:
        return text, ""
    if damaged := _utf8_with_damage(data):
        return damaged[0], f"UTF-8 with {damaged[1]} invalid byte(s) replaced"
    high = sum(b > 127 for b in data)
    ascii_letters = len(re.findall(rb"[A-Za-z]", data))
    if high <= ascii_letters:
        return _western(data)  # type: ignore[return-value]  # never None without letters_only
    if found := _detected(data) or _western(data, letters_only=True):
        return found
    raise UnknownEncodingError(
        f"{file_name} is not UTF-8 and its encoding could not be recognized: save it as "
        "UTF-8 and upload it again.", name=file_name)
