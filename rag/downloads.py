"""Download a GGUF model into the models folder: streamed, resumable, checked, atomic.

A source is a Hugging Face ``owner/repo/path/file.gguf`` (fetched from ``$HF_ENDPOINT``,
default ``https://huggingface.co``; its SHA-256 and size come from the hub's LFS metadata)
or an ``http(s)://`` URL (checked against ``sha256`` when given); see
:mod:`rag.download_sources`, whose ``RemoteFile`` and ``resolve_source`` are also reachable
here. Bytes go to
``<models_dir>/.downloads/<file>.part``, a hidden folder no model listing looks at; an
interrupted download resumes from there with an HTTP ``Range`` request. Only a complete
file whose checksum matches is moved (``os.replace``) into ``models_dir``: a failed or
refused download never leaves a ``.gguf`` there, and a wrong checksum deletes the part.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from rag.download_sources import (
    DEFAULT_ENDPOINT,
    RemoteFile,
    build_request,
    hub_endpoint,
    open_request,
    resolve_source,
)
from rag.errors import (
    ChecksumMismatchError,
    DiskSpaceError,
    DownloadError,
    OfflineError,
)

__all__ = ["CHUNK_BYTES", "DEFAULT_ENDPOINT", "DISK_MARGIN_BYTES", "PARTIAL_DIR", "Progress",
           "RemoteFile", "check_disk_space", "download", "hub_endpoint", "partial_path",
           "resolve_source"]

log = logging.getLogger(__name__)

PARTIAL_DIR = ".downloads"
CHUNK_BYTES = 1 << 20
DISK_MARGIN_BYTES = 256 << 20
"""Free space kept beyond the file itself (the system and the app need some)."""

Progress = Callable[[int, int], None]
"""Called with (bytes so far, total bytes; 0 if unknown) as the download advances."""


def partial_path(models_dir: str | Path, file_name: str) -> Path:
    return Path(models_dir) / PARTIAL_DIR / (file_name + ".part")


def check_disk_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed and free < needed + DISK_MARGIN_BYTES:
        raise DiskSpaceError(
            f"Not enough disk space: {needed / 1e9:.2f} GB needed "
            f"(+{DISK_MARGIN_BYTES / 1e9:.2f} GB margin), {free / 1e9:.2f} GB free in {folder}.",
            needed_gb=round(needed / 1e9, 2), free_gb=round(free / 1e9, 2))


def download(source: str | RemoteFile, models_dir: str | Path, sha256: str | None = None,
             progress: Progress | None = None, retries: int = 3, timeout: float = 30.0,
             overwrite: bool = False) -> Path:
    """Fetch ``source`` into ``models_dir`` and return the model's path. Retries a cut
    connection ``retries`` times (each resuming where it stopped); if it still fails the
    part stays for the next call to resume. Raises a :class:`~rag.errors.DownloadError`."""
    remote = source if isinstance(source, RemoteFile) else resolve_source(source, sha256, timeout)
    folder = Path(models_dir)
    target = folder / remote.file_name
    if target.exists() and not overwrite:
        if remote.sha256 and _sha256_of(target) != remote.sha256:
            raise DownloadError(f"{target.name} already exists in {folder} with other "
                                "contents; remove it first.", file=target.name)
        log.info("%s is already in %s", target.name, folder)
        return target
    part = partial_path(folder, remote.file_name)
    _forget_stale_part(part, remote)
    have = part.stat().st_size if part.exists() else 0
    folder.mkdir(parents=True, exist_ok=True)
    check_disk_space(folder, max(remote.size - have, 0))
    part.parent.mkdir(exist_ok=True)
    try:
        return _download_into(remote, part, target, have, progress, retries, timeout)
    finally:
        with contextlib.suppress(OSError):  # an empty partial folder is not left behind
            part.parent.rmdir()


def _download_into(remote: RemoteFile, part: Path, target: Path, have: int,
                   progress: Progress | None, retries: int, timeout: float) -> Path:
    digest = hashlib.sha256()
    if have:
        _hash_into(digest, part)
    attempt = 0
    while True:
        try:
            have = _fetch(remote, part, have, digest, progress, timeout)
            break
        except _NoResume:
            log.info("server does not resume; downloading %s from the start", remote.file_name)
            part.unlink(missing_ok=True)
            have, digest = 0, hashlib.sha256()
        except (OfflineError, _CutConnection) as exc:
            attempt += 1
            if attempt > retries:
                raise DownloadError(
                    f"The download of {remote.file_name} stopped at {have / 2**20:.0f} MB "
                    f"({exc}); run it again to resume.", file=remote.file_name) from exc
            have = part.stat().st_size if part.exists() else 0
            log.warning("download cut (%s); resuming at %d bytes", exc, have)
    actual = digest.hexdigest()
    if remote.size and have != remote.size:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{remote.file_name}: got {have} bytes, expected {remote.size}.",
                            file=remote.file_name)
    if remote.sha256 and actual != remote.sha256:
        part.unlink(missing_ok=True)
        _meta_path(part).unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{remote.file_name} is corrupt or not the expected file: SHA-256 {actual[:12]}…, "
            f"expected {remote.sha256[:12]}…. Nothing was kept.", file=remote.file_name)
    _check_gguf(part, remote.file_name)
    os.replace(part, target)
    _meta_path(part).unlink(missing_ok=True)
    log.info("downloaded %s (%d bytes, sha256 %s)", target, have, actual)
    return target


class _CutConnection(Exception):
    """The server stopped sending before the end of the file."""


class _NoResume(Exception):
    """The server answered a Range request with the whole file."""


def _fetch(remote: RemoteFile, part: Path, have: int, digest, progress: Progress | None,
           timeout: float) -> int:
    headers = {"Range": f"bytes={have}-"} if have else {}
    with open_request(build_request(remote.url, headers), timeout) as response:
        if have and response.status != 206:  # the server ignored Range
            raise _NoResume
        mode = "ab" if have else "wb"
        length = int(response.headers.get("Content-Length") or 0)
        total = remote.size or (have + length if length else 0)
        if not remote.size and length:
            check_disk_space(part.parent, length)
        _write_meta(part, remote)
        with open(part, mode) as out:
            while True:
                try:
                    block = response.read(CHUNK_BYTES)
                except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                    out.flush()
                    raise _CutConnection(str(exc) or type(exc).__name__) from exc
                if not block:
                    break
                out.write(block)
                digest.update(block)
                have += len(block)
                if progress:
                    progress(have, total)
        if length and have < (total or have):
            raise _CutConnection(f"connection closed at {have} of {total} bytes")
    return have


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _write_meta(part: Path, remote: RemoteFile) -> None:
    _meta_path(part).write_text(json.dumps({"url": remote.url, "sha256": remote.sha256,
                                            "size": remote.size}), encoding="utf-8")


def _forget_stale_part(part: Path, remote: RemoteFile) -> None:
    """A part left by a download of another URL or file version is not resumed."""
    if not part.exists():
        return
    try:
        meta = json.loads(_meta_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    stale = (meta.get("url") != remote.url or (remote.sha256 and meta.get("sha256")
             and meta["sha256"] != remote.sha256)
             or (remote.size and part.stat().st_size > remote.size))
    if stale:
        log.info("discarding a stale partial download %s", part.name)
        part.unlink(missing_ok=True)


def _hash_into(digest, path: Path) -> None:
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            digest.update(block)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    _hash_into(digest, path)
    return digest.hexdigest()


def _check_gguf(part: Path, file_name: str) -> None:
    with open(part, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        part.unlink(missing_ok=True)
        _meta_path(part).unlink(missing_ok=True)
        raise DownloadError(f"{file_name} is not a GGUF model (the server sent something "
                            "else, perhaps an error page). Nothing was kept.", file=file_name)
