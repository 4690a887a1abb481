"""Types and ranges of the settings, checked where they are read (``settings.json`` and
``RAG_<NAME>`` variables). A bad value is not used: the setting keeps its previous value (the
default, or the one from ``settings.json``) and a :class:`SettingIssue` names the key, where
it came from and what it must be, for the log, the CLI and the Settings page."""

from __future__ import annotations

from dataclasses import dataclass

# name: (type, low, high) for numbers, (str, allowed values or None) for text.
RULES: dict[str, tuple] = {
    "data_dir": (str, None), "models_dir": (str, None), "library": (str, None),
    "model": (str, None), "embedder": (str, "embedders"),
    "embedder_dtype": (str, ("auto", "float32", "bfloat16")),
    "n_ctx": (int, 512, 131072), "max_tokens": (int, 16, 32768),
    "temperature": (float, 0.0, 2.0), "repeat_penalty": (float, 0.5, 2.0),
    "top_k": (int, 1, 50), "chunk_tokens": (int, 16, 2048), "chunk_overlap": (int, 0, 1024),
    "n_gpu_layers": (int, -1, 100_000), "n_threads": (int, 0, 1024),
    "language": (str, ("auto", "es", "en")), "max_upload_mb": (int, 1, 10_240),
    "parse_timeout_s": (float, 1.0, 86_400.0), "parse_memory_mb": (int, 128, 1_048_576),
    "index_timeout_s": (float, 1.0, 86_400.0), "max_question_chars": (int, 10, 1_000_000),
    "auth": (str, ("on", "off")), "session_days": (float, 0.01, 3650.0),
    "session_idle_hours": (float, 0.01, 87_600.0), "ann_min_chunks": (int, 0, 10**9),
    "llm_timeout_s": (float, 1.0, 3600.0),
}
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
_WORDS = {int: "an integer", float: "a number", str: "text", bool: "true or false"}


@dataclass(frozen=True)
class SettingIssue:
    """A setting value that was not used, or a settings file that could not be read."""

    key: str  # the setting's name ("n_ctx"), or "settings.json" for the whole file
    source: str  # "settings.json" or "RAG_N_CTX"
    value: str  # what was found (shortened)
    expected: str  # what it must be, in English ("an integer from 512 to 131072"); "" for
    # an unknown key

    def describe(self) -> str:
        if self.key == "settings.json":
            return f"settings.json {self.expected}"
        if not self.expected:
            return f"{self.source}: {self.key} is not a setting; it was ignored"
        if self.expected == "environment only":
            return (f"{self.source}: {self.key} is read from the environment only "
                    f"(RAG_{self.key.upper()}); it was ignored")
        return (f"{self.source}: {self.key} must be {self.expected}, not {self.value}; "
                "it was ignored")


def _kind(annotation: object) -> type | None:
    return _TYPES.get(annotation) if isinstance(annotation, str) else (  # type: ignore[arg-type]
        annotation if isinstance(annotation, type) else None)


def _expected(name: str, kind: type) -> str:
    rule = RULES.get(name, (kind,))
    if kind in (int, float) and len(rule) == 3:
        return f"{_WORDS[kind]} from {rule[1]} to {rule[2]}"
    if kind is str and len(rule) == 2 and rule[1] is not None:
        return "one of " + ", ".join(_choices(rule[1]))
    if name in ("library", "data_dir"):
        return "a name that is not blank"
    return _WORDS.get(kind, "valid")


def _choices(allowed: tuple[str, ...] | str) -> list[str]:
    if allowed == "embedders":
        from rag.embedding import EMBEDDERS

        return list(EMBEDDERS)
    return list(allowed)


def _convert(kind: type, value: object, from_text: bool) -> object:
    """``value`` as ``kind``, or raise ValueError. JSON values must already have the type
    (an integer is also a valid float); environment text is parsed."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_text and str(value).strip().lower() in ("1", "true", "yes", "on", "0", "false",
                                                        "no", "off"):
            return str(value).strip().lower() in ("1", "true", "yes", "on")
        raise ValueError
    if isinstance(value, bool):
        raise ValueError
    if from_text:
        return kind(str(value).strip())
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind):
        raise ValueError
    return value


def check_value(name: str, annotation: object, value: object, source: str,
                from_text: bool = False) -> tuple[object, SettingIssue | None]:
    """(the value to use, None) or (None, the issue)."""
    kind = _kind(annotation)
    if kind is None:  # a type these checks do not know: leave it to the dataclass
        return value, None
    rule = RULES.get(name, (kind,))
    try:
        converted = _convert(kind, value, from_text)
        if kind in (int, float) and len(rule) == 3 and not rule[1] <= converted <= rule[2]:
            raise ValueError
        if kind is float and converted != converted:  # NaN
            raise ValueError
        if kind is str and len(rule) == 2 and rule[1] is not None \
                and converted not in _choices(rule[1]):
            raise ValueError
        if kind is str and name in ("library", "data_dir") and not str(converted).strip():
            raise ValueError
    except (ValueError, TypeError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return None, SettingIssue(name, source, shown, _expected(name, kind))
    return converted, None


def check_consistency(values: dict[str, object], defaults: object) -> list[SettingIssue]:
    """Rules between settings: the answer must leave room for the prompt, the overlap
    must be smaller than the chunk. The offending value is dropped from ``values``."""
    issues = []
    n_ctx = values.get("n_ctx", getattr(defaults, "n_ctx", 2048))
    if "max_tokens" in values and values["max_tokens"] >= n_ctx:  # type: ignore[operator]
        issues.append(SettingIssue("max_tokens", "settings", repr(values.pop("max_tokens")),
                                   f"less than n_ctx ({n_ctx})"))
    chunk = values.get("chunk_tokens", getattr(defaults, "chunk_tokens", 200))
    if "chunk_overlap" in values and values["chunk_overlap"] >= chunk:  # type: ignore[operator]
        issues.append(SettingIssue("chunk_overlap", "settings",
                                   repr(values.pop("chunk_overlap")),
                                   f"less than chunk_tokens ({chunk})"))
    return issues
