"""Typed settings with documented defaults.

Precedence, lowest first: the defaults below, ``<data_dir>/settings.json`` (written by the
app's Settings page), then environment variables ``RAG_<FIELD>`` (e.g. ``RAG_N_CTX=4096``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path

from rag.storage_io import atomic_write_text

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = "settings.json"


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
    passage_tokens: int = 100
    """Most model tokens of each passage in the prompt: longer ones keep the sentences
    closest to the question (``rag.passages``). 0: whole passages."""
    chunk_tokens: int = 200
    """Chunk size in embedder word pieces (all-MiniLM truncates at 256)."""
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
    parse_memory_mb: int = 1024
    """Memory the worker may use to read one file (``RLIMIT_AS``): a 150 MB DOCX needs under
    512 MB; a decompression bomb hits the limit within seconds and is skipped."""
    auth: str = "on"
    """``on``: local accounts (log in; each person has their own library and chats);
    ``off``: single-person mode, no login (read from the environment or the data dir's
    own ``settings.json``, never from a user's)."""
    session_days: float = 7.0
    """A login lasts this long at most."""
    session_idle_hours: float = 24.0
    """A login unused for this long ends."""

    def with_changes(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1


_TYPES = {"int": int, "float": float, "str": str}


def _coerce(kind: type | str, raw: str) -> object:
    """Fields are annotated as strings (``from __future__ import annotations``)."""
    return _TYPES.get(kind, str)(raw) if isinstance(kind, str) else kind(raw)


def load_settings(data_dir: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
    """Defaults, then ``settings.json`` in the data dir, then ``RAG_*`` env, then ``overrides``."""
    values: dict[str, object] = {}
    env_data = os.environ.get("RAG_DATA_DIR")
    base = Path(data_dir or env_data or Settings.data_dir)
    values["data_dir"] = str(base)
    saved = base / SETTINGS_FILE
    if saved.is_file():
        try:
            stored = json.loads(saved.read_text(encoding="utf-8"))
            known = {f.name for f in fields(Settings)} - {"data_dir"}
            values.update({k: v for k, v in stored.items() if k in known})
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", saved, exc)
    for f in fields(Settings):
        raw = os.environ.get(f"RAG_{f.name.upper()}")
        if raw is not None and f.name != "data_dir":
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError:
                log.warning("ignoring RAG_%s=%r: not a %s", f.name.upper(), raw, f.type)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def save_settings(settings: Settings, **changes: object) -> Settings:
    """Persist ``changes`` (only those) into ``settings.json`` and return the new settings."""
    path = Path(settings.data_dir) / SETTINGS_FILE
    stored: dict[str, object] = {}
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
    stored.update(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stored, indent=2, sort_keys=True))
    return settings.with_changes(**changes)
