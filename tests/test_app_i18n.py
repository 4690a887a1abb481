"""rag.i18n: both languages everywhere, engine errors translated, inert Markdown."""

from __future__ import annotations

import re
import string

import pytest

from rag import errors, i18n
from rag.llm import Hardware

PLACEHOLDER = re.compile(r"{(\w+)}")


def _error_codes() -> set[str]:
    found, todo = set(), [errors.RagError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo += cls.__subclasses__()
    return found


@pytest.mark.parametrize("table", [i18n.S, i18n.ERRORS], ids=["strings", "errors"])
def test_every_string_has_both_languages_with_the_same_placeholders(table) -> None:
    for key, (spanish, english) in table.items():
        assert spanish.strip() and english.strip(), key
        assert set(PLACEHOLDER.findall(spanish)) == set(PLACEHOLDER.findall(english)), key


def test_every_specific_engine_error_code_is_translated() -> None:
    generic = {"error", "document_error"}  # fall back to the engine's English message
    assert _error_codes() - generic <= set(i18n.ERRORS)


def test_error_message() -> None:
    exc = errors.EncryptedFileError("x.pdf is password-protected.", name="x.pdf")
    # Messages are Markdown for the screen: every value in them is escaped (i18n.plain).
    assert i18n.error_message(exc, "es") == ("«x\\.pdf» está protegido con contraseña: "
                                             "quítala y vuelve a subirlo.")
    assert "password-protected" in i18n.error_message(exc, "en")
    busy = errors.RagError("The model is busy; try again shortly.")
    assert i18n.error_message(busy, "es") == i18n.plain(busy.message)  # no translation
    missing = errors.ModelLoadError("Could not load m.gguf")  # a parameter is missing
    assert i18n.error_message(missing, "es") == "Could not load m\\.gguf"
    hostile = errors.EmptyFileError("x is empty.", name="[a](http://e.x) **b**.txt")
    assert i18n.error_message(hostile, "en") == (
        "“\\[a\\]\\(http\u2060\\:\\/\\/e\\.x\\) \\*\\*b\\*\\*\\.txt” is empty.")
    assert i18n.error_message(KeyError("internal"), "en") == i18n.t("error.unexpected", "en")


def test_ui_language_defaults_to_spanish() -> None:
    assert i18n.ui_language({}) == "es"
    assert i18n.ui_language({i18n.STATE_KEY: "en"}) == "en"
    assert i18n.ui_language({i18n.STATE_KEY: "fr"}) == "es"


def test_counts_numbers_and_warnings() -> None:
    assert i18n.count("document", 1, "es") == "1 documento"
    assert i18n.count("chunk", 1204, "es") == "1.204 fragmentos"
    assert i18n.count("page", 2, "en") == "2 pages"
    assert i18n.number(1234.5, "es", 1) == "1.234,5"
    assert i18n.warning_text("page 3 has no text (scanned?)", "es") == \
        "la página 3 no tiene texto (¿escaneada?)"
    assert i18n.warning_text("something new", "es") == "something new"


def test_hardware_text() -> None:
    cpu = Hardware(gpu=False, layers_offloaded=0, layers_total=31, threads=2)
    gpu = Hardware(gpu=True, layers_offloaded=33, layers_total=33, threads=8)
    assert i18n.hardware_text(cpu, "en") == "CPU, 2 threads"
    assert i18n.hardware_text(cpu, "es") == "CPU, 2 hilos"
    assert i18n.hardware_text(gpu, "en") == "GPU: 33/33 layers offloaded"
    assert i18n.hardware_text(gpu, "es") == "GPU: 33/33 capas en la GPU"


def test_plain_escapes_every_markdown_construct() -> None:
    hostile = "![i](http://x/y.png) <b>b</b> [l](javascript:1) **b** `c` :red[r] $x$ # h"
    escaped = i18n.plain(hostile)
    chars = iter(escaped)
    for char in chars:  # every punctuation character comes escaped
        if char == "\\":
            assert next(chars) in string.punctuation
        else:
            assert char not in string.punctuation, escaped
    assert re.sub(r"\\(.)", r"\1", escaped).replace(i18n.WORD_JOINER, "") == hostile
    assert i18n.plain("a\nb") == "a  \nb"  # line breaks kept


def test_plain_breaks_autolinks() -> None:
    """Bare URLs, www. names and e-mail addresses would become links even when escaped."""
    escaped = i18n.plain("see HTTP://x.org/a www.y.com mail a@b.com")
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert not re.search(r"(?i)https?:|www\.|@\w", unescaped)
    assert unescaped.replace(i18n.WORD_JOINER, "") == "see HTTP://x.org/a www.y.com mail a@b.com"


def test_plain_stream_equals_plain_of_the_whole() -> None:
    pieces = ["![x](", "ht", "tp://e", "vil)\n", "**bold", "** ww", "w.x.com"]
    assert "".join(i18n.plain_stream(pieces)) == i18n.plain("".join(pieces))


def test_encoding_notes_in_spanish() -> None:
    assert i18n.warning_text("not UTF-8: decoded as UTF-8 with 2 invalid byte(s) replaced",
                             "es") == "UTF-8 con 2 byte(s) no válido(s), reemplazado(s) por �"
    assert i18n.warning_text("not UTF-8: decoded as UTF-16 (no BOM)", "es") == (
        "no es UTF-8: se leyó como UTF-16 (sin BOM)")
    assert i18n.warning_text("named .pdf but its content is plain text: read as such",
                             "es") == "se llama .pdf pero es texto sin formato: se leyó como tal"
