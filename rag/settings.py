"""Typed settings with documented defaults.

Precedence, lowest first: the defaults below, ``<data_dir>/settings.json`` (written by the
app's Settings page), then environment variables ``RAG_<FIELD>`` (e.g. ``RAG_N_CTX=4096``).
Values are checked (types and ranges: :mod:`rag.settings_checks`); a bad one is ignored and
reported in ``Settings.issues``. An unreadable ``settings.json`` is never overwritten: saving
keeps it aside first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from rag.settings_checks import SettingIssue, check_consistency, check_value
from rag.storage_io import atomic_write_text

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = "settings.json"
ENV_ONLY = frozenset({"data_dir", "database_url", "llm_api_key"})
"""Never read from (or written to) ``settings.json``: secrets and the data dir itself."""


@dataclass(frozen=True)
class Settings:
    data_dir: str = str(PROJECT_ROOT / "data")
    """Where libraries, chats and settings live."""
    models_dir: str = str(PROJECT_ROOT / "models")
    """Every ``*.gguf`` in it can be picked, besides the packaged default."""
    library: str = "default"
    """The library (named index) in use."""
    model: str = ""
    """GGUF path; empty means the packaged default (SmolLM2-135M-Instruct)."""
    embedder: str = "use-multilingual"
    """``use-multilingual`` (Universal Sentence Encoder multilingual v3: Spanish questions
    find English passages; 3x faster here) or ``minilm`` (all-MiniLM-L6-v2, English only)."""
    embedder_dtype: str = "auto"
    """``auto`` (bfloat16 where the CPU has native bf16, else float32), ``float32`` or
    ``bfloat16``."""
    n_ctx: int = 2048
    """LLM context window in tokens."""
    max_tokens: int = 384
    """Most tokens an answer may take; the prompt gets ``n_ctx - max_tokens``."""
    temperature: float = 0.2
    repeat_penalty: float = 1.1
    """Discourages loops, which small models fall into (1.0 = off)."""
    top_k: int = 4
    """Passages given to the model per question."""
    passage_tokens: int = 80
    """Most model tokens of each passage in the prompt: longer ones keep the sentences
    closest to the question (``rag.passages``). 0: whole passages."""
    chunk_tokens: int = 200
    """Chunk size in embedder word pieces, within the embedder's input limit (USE 512,
    MiniLM 256; longer chunks are re-split to fit)."""
    chunk_overlap: int = 24
    n_gpu_layers: int = -1
    """-1: offload every layer when llama.cpp was built with GPU support; 0: CPU only."""
    n_threads: int = 0
    """0: one per core."""
    language: str = "auto"
    """Answer language: ``auto`` (the question's), ``es`` or ``en``."""
    max_upload_mb: int = 200
    parse_timeout_s: float = 120.0
    """Files are read in a worker process (``rag.sandbox``); one that takes longer is skipped."""
    index_timeout_s: float = 300.0
    """Most seconds chunking and embedding one file may take (in the app's own process);
    a file that takes longer is skipped with a message, and the next one goes on."""
    max_question_chars: int = 2000
    """Longest question accepted in the chat and the CLI (longer ones get a message)."""
    parse_memory_mb: int = 1024
    """Memory the worker may use to read one file (``RLIMIT_AS``): a 150 MB DOCX needs under
    512 MB; a decompression bomb hits the limit within seconds and is skipped."""
    ocr: str = "auto"
    """PDF pages without a text layer (scans): ``auto`` reads them with Tesseract in the
    document's language (from its other pages' text, else Spanish or English as the first
    page reads); a Tesseract language (``spa``, ``eng``, ``spa+eng``); or ``off``."""
    database_url: str = ""
    """Empty: the embedded store (SQLite + FAISS in the data dir). ``postgresql://user:pw@host/db``:
    PostgreSQL 15+ with pgvector, shared by every app process pointed at it. Read from the
    environment only (``RAG_DATABASE_URL``): it may hold a password."""
    ann_min_chunks: int = 20_000
    """Embedded store: from this many chunks on, approximate (IVF) vector search; filtered
    searches stay exact."""
    llm_url: str = ""
    """Empty: run the GGUF in-process. ``http://host:port/v1``: an OpenAI-compatible model
    server (llama.cpp, llama-cpp-python, vLLM, or a hosted endpoint)."""
    llm_api_key: str = ""
    """Bearer token for ``llm_url``; environment only (``RAG_LLM_API_KEY``), never saved."""
    llm_model: str = ""
    """Model name sent to the server (empty: the server's first model)."""
    llm_timeout_s: float = 60.0
    """Model server: seconds to wait for a connection or for the next piece of an answer."""
    auth: str = "on"
    """``on``: local accounts (log in; each person has their own library and chats);
    ``off``: single-person mode, no login (read from the environment or the data dir's
    own ``settings.json``, never from a user's)."""
    session_days: float = 7.0
    """A login lasts this long at most."""
    session_idle_hours: float = 24.0
    """A login unused for this long ends."""

    issues: tuple[SettingIssue, ...] = field(default=(), compare=False, repr=False)
    """Values found but not used (wrong type or range, unknown key, unreadable file): not a
    setting, filled in by :func:`load_settings`."""

    def with_changes(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1


def _setting_fields() -> dict[str, object]:
    return {f.name: f.type for f in fields(Settings) if f.name != "issues"}


def _read_saved(path: Path) -> tuple[dict[str, object], list[SettingIssue]]:
    """The values in ``settings.json`` that are valid, and the issues with the rest."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict):
            raise ValueError("it is not a JSON object")
    except (OSError, ValueError) as exc:  # (UnicodeDecodeError and JSONDecodeError too)
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}, [SettingIssue("settings.json", SETTINGS_FILE, "", (
            "could not be read; the defaults are used. It is kept as it is, and set aside "
            "(not overwritten) when settings are next saved"))]
    values: dict[str, object] = {}
    issues = []
    known = _setting_fields()
    for key, raw in stored.items():
        if key in ENV_ONLY and key in known:  # (a secret: its value is not repeated)
            issues.append(SettingIssue(key, SETTINGS_FILE, "", "environment only"))
            continue
        if key not in known:
            issues.append(SettingIssue(str(key)[:60], SETTINGS_FILE, repr(raw)[:60], ""))
            continue
        value, issue = check_value(key, known[key], raw, SETTINGS_FILE)
        if issue is None:
            values[key] = value
        else:
            issues.append(issue)
    return values, issues


def option_issues(**options: object) -> list[SettingIssue]:
    """Problems with settings given as command-line options (``--embedder x``), checked
    like settings.json's; options left out (``None``) are not checked."""
    known = _setting_fields()
    issues = []
    for name, value in options.items():
        if value is not None:
            _, issue = check_value(name, known[name], value, f"--{name}")
            if issue is not None:
                issues.append(issue)
    return issues


def load_settings(data_dir: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
    """Defaults, then ``settings.json`` in the data dir, then ``RAG_*`` env, then ``overrides``.
    Bad values are left out and listed in the result's ``issues`` (and logged)."""
    env_data = os.environ.get("RAG_DATA_DIR")
    base = Path(data_dir or env_data or Settings.data_dir)
    values: dict[str, object] = {"data_dir": str(base)}
    issues: list[SettingIssue] = []
    saved = base / SETTINGS_FILE
    if saved.is_file():
        stored, issues = _read_saved(saved)
        values.update(stored)
    for name, annotation in _setting_fields().items():
        raw = os.environ.get(f"RAG_{name.upper()}")
        if raw is not None and name != "data_dir":
            value, issue = check_value(name, annotation, raw, f"RAG_{name.upper()}",
                                       from_text=True)
            if issue is None:
                values[name] = value
            else:
                issues.append(issue)
    values.update({k: v for k, v in overrides.items() if v is not None})
    issues += check_consistency(values, Settings)
    for issue in issues:
        log.warning("setting ignored: %s", issue.describe())
    return Settings(**values, issues=tuple(issues))


def save_settings(settings: Settings, **changes: object) -> Settings:
    """Persist ``changes`` (only those) into ``settings.json`` and return the new settings.
    An existing file that cannot be read is first renamed ``settings.unreadable-<UTC
    time>.json`` (never overwritten); the new settings' ``issues`` then say so."""
    path = Path(settings.data_dir) / SETTINGS_FILE
    stored: dict[str, object] = {}
    issues: list[SettingIssue] = []
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            aside = path.with_name(f"settings.unreadable-{stamp}.json")
            path.rename(aside)
            log.warning("%s could not be read: kept as %s", path, aside)
            issues.append(SettingIssue("settings.json", SETTINGS_FILE, aside.name,
                                       f"could not be read: it was kept as {aside.name} and "
                                       "a new one was written"))
            stored = {}
    stored.update({k: v for k, v in changes.items() if k not in ENV_ONLY})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stored, indent=2, sort_keys=True))
    return settings.with_changes(**changes, issues=tuple(issues))
