"""Model downloads that run in the background, one thread each, process-wide: the app's
Settings page starts one and polls its progress; leaving the page does not stop it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from rag import downloads
from rag.errors import DownloadError, RagError


@dataclass(frozen=True)
class DownloadJob:
    """A snapshot of one download."""

    source: str
    models_dir: str
    file_name: str = ""
    done: int = 0
    total: int = 0
    status: str = "running"  # "running" | "done" | "failed"
    path: str = ""
    error: RagError | None = None

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0


_lock = threading.Lock()
_jobs: dict[str, DownloadJob] = {}


def _key(source: str, models_dir: str | Path) -> str:
    return f"{Path(models_dir).resolve()}|{source}"


def start(source: str, models_dir: str | Path, sha256: str | None = None) -> str:
    """Start downloading ``source`` (see :func:`rag.downloads.download`) unless the same
    download is already running; returns the job's key."""
    key = _key(source, models_dir)
    with _lock:
        if key in _jobs and _jobs[key].status == "running":
            return key
        _jobs[key] = DownloadJob(source=source, models_dir=str(models_dir))
    threading.Thread(target=_run, args=(key, source, Path(models_dir), sha256),
                     name=f"download-{Path(source).name}", daemon=True).start()
    return key


def _update(key: str, **changes: object) -> None:
    with _lock:
        _jobs[key] = replace(_jobs[key], **changes)


def _run(key: str, source: str, models_dir: Path, sha256: str | None) -> None:
    try:
        remote = downloads.resolve_source(source, sha256)
        _update(key, file_name=remote.file_name, total=remote.size)
        path = downloads.download(remote, models_dir,
                                  progress=lambda done, total: _update(key, done=done,
                                                                       total=total))
        _update(key, status="done", path=str(path))
    except RagError as exc:
        _update(key, status="failed", error=exc)
    except Exception as exc:  # never a silent dead thread
        _update(key, status="failed",
                error=DownloadError(f"The download failed: {exc}", source=source))


def jobs(models_dir: str | Path | None = None) -> list[DownloadJob]:
    """Every download started in this process (for ``models_dir`` if given), oldest first."""
    prefix = f"{Path(models_dir).resolve()}|" if models_dir is not None else ""
    with _lock:
        return [job for key, job in _jobs.items() if key.startswith(prefix)]


def dismiss(models_dir: str | Path, source: str) -> None:
    """Forget a finished download (its message has been shown)."""
    key = _key(source, models_dir)
    with _lock:
        if key in _jobs and _jobs[key].status != "running":
            del _jobs[key]
