"""The curated model gallery (``rag/data/model_gallery.json``) and what each model would
mean on this machine: whether it is installed, whether it fits in memory, how fast it
would write."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GALLERY_FILE = Path(__file__).with_name("data") / "model_gallery.json"
BANDWIDTH_EFFICIENCY = 0.55
"""Share of the measured memory bandwidth llama.cpp's token generation reaches on a CPU
(each token reads every weight once, so tokens/s ≈ bandwidth x efficiency / model size).
The probe reads with one core; llama.cpp reads with every thread, up to ~4 before the
memory bus saturates."""
THREAD_SCALING_CAP = 4


@dataclass(frozen=True)
class GalleryModel:
    id: str
    name: str
    source: str  # hub owner/repo/file.gguf
    parameters: str
    quantization: str
    size_gb: float
    ram_gb: float
    licence: str
    note_es: str = ""
    note_en: str = ""

    @property
    def file_name(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def note(self, lang: str) -> str:
        return self.note_es if lang == "es" else self.note_en


@dataclass(frozen=True)
class MachineFit:
    """A gallery model on this machine."""

    installed: bool
    fits_memory: bool
    tokens_per_s: float  # estimated generation speed on this CPU (0: unknown)


def load_gallery(path: Path = GALLERY_FILE) -> list[GalleryModel]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [GalleryModel(**entry) for entry in data["models"]]


def find(model_id_or_source: str) -> GalleryModel | None:
    return next((m for m in load_gallery()
                 if model_id_or_source in (m.id, m.source)), None)


def total_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 0.0


@functools.lru_cache(maxsize=1)
def memory_bandwidth_gbps() -> float:
    """Measured read bandwidth (GB/s): summing a 128 MB array, best of three (~0.1 s)."""
    try:
        import numpy as np

        block = np.ones(16 << 20, dtype=np.float64)  # 128 MB
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            block.sum()
            best = min(best, time.perf_counter() - started)
        return block.nbytes / best / 1e9
    except Exception:  # an estimate only
        log.warning("memory bandwidth probe failed", exc_info=True)
        return 0.0


def estimate_tokens_per_s(size_gb: float, threads: int = 0,
                          bandwidth_gbps: float | None = None) -> float:
    """Generation speed of a ``size_gb`` model on this CPU with ``threads`` (0: all cores)."""
    bandwidth = memory_bandwidth_gbps() if bandwidth_gbps is None else bandwidth_gbps
    if size_gb <= 0 or bandwidth <= 0:
        return 0.0
    threads = min(threads or os.cpu_count() or 1, THREAD_SCALING_CAP)
    return round(bandwidth * threads * BANDWIDTH_EFFICIENCY / size_gb, 1)


def machine_fit(model: GalleryModel, models_dir: str | Path, threads: int = 0) -> MachineFit:
    memory = total_memory_gb()
    return MachineFit(installed=(Path(models_dir) / model.file_name).is_file(),
                      fits_memory=not memory or model.ram_gb <= memory * 0.9,
                      tokens_per_s=estimate_tokens_per_s(model.size_gb, threads))
