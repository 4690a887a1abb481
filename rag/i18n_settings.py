"""Settings problems (:class:`~rag.settings_checks.SettingIssue`) in the user's language."""

from __future__ import annotations

import re

from rag.inert import plain
from rag.settings_checks import SettingIssue

_EXPECTED_ES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^an integer from (\S+) to (\S+)$"), r"un número entero de \1 a \2"),
    (re.compile(r"^a number from (\S+) to (\S+)$"), r"un número de \1 a \2"),
    (re.compile(r"^one of (.*)$"), r"uno de: \1"),
    (re.compile(r"^less than (\S+) \((\S+)\)$"), r"menor que \1 (\2)"),
    (re.compile(r"^text$"), "texto"),
    (re.compile(r"^true or false$"), "true o false"),
]


def setting_issue_text(issue: SettingIssue, lang: str) -> str:
    """A :class:`~rag.settings_checks.SettingIssue` for the screen, as inert Markdown."""
    key, source, value = plain(issue.key), plain(issue.source), plain(issue.value)
    if lang != "es":
        return plain(issue.describe())
    if issue.key == "settings.json":
        if issue.value:  # set aside on save
            return (f"No se pudo leer settings\\.json: se guardó aparte como {value} y se "
                    "escribió uno nuevo.")
        return ("No se pudo leer settings\\.json: se usan los valores por defecto. Se "
                "conserva tal cual y se guardará aparte (sin sobrescribirlo) al guardar los "
                "ajustes.")
    if not issue.expected:
        return f"{source}: «{key}» no es un ajuste; se ignoró."
    if issue.expected == "environment only":
        return (f"{source}: «{key}» solo se lee del entorno "
                f"({plain('RAG_' + issue.key.upper())}); se ignoró.")
    expected = issue.expected
    for pattern, spanish in _EXPECTED_ES:
        if pattern.match(expected):
            expected = pattern.sub(spanish, expected)
            break
    return f"{source}: «{key}» debe ser {plain(expected)}, no {value}; se ignoró."
