"""Consistent copies of the data directory on a slower, safer folder (standard library only).

SQLite in WAL mode and the FAISS index want a real local file system, not Google Drive's
FUSE mount or an SMB share (Azure Files): the app works on local disk and this module
copies the data to such a folder and back. SQLite files are read through SQLite's backup
API into a local temporary file (so a copy holds every committed transaction, and no SQLite
lock is ever taken on the network folder), then every file is written there atomically.

    python -m deploy.backup restore DATA_DIR BACKUP_DIR
    python -m deploy.backup run [--every S] DATA_DIR BACKUP_DIR -- COMMAND ...

``run`` runs COMMAND (the app), snapshots every S seconds while it runs, passes SIGTERM and
SIGINT on to it, and takes a last snapshot when it exits (``scripts/docker-entrypoint.sh``
with ``RAG_BACKUP_DIR``). The Colab notebook uses :func:`restore`, :class:`Backup` and
:func:`snapshot` through ``deploy.colab``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_WAL_VERSION = 2  # header bytes 18-19 of a database in WAL mode


def _sqlite_header(path: Path) -> bytes:
    """The first 20 bytes when ``path`` is an SQLite database, else ``b""``."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    return head if head.startswith(_SQLITE_MAGIC) else b""


def _copy_stat(source: Path, target: Path) -> None:
    """Times (and mode where the file system allows: SMB mounts may refuse chmod)."""
    try:
        shutil.copystat(source, target)
    except OSError:
        stat = source.stat()
        with contextlib.suppress(OSError):  # else the next snapshot copies it again
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically. A database in WAL mode (a live one) goes
    through SQLite's backup API into a local temporary file first, then into one
    self-contained file; SQLite never opens a file in the backup folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    header = _sqlite_header(source)
    if header and header[18] == _WAL_VERSION:
        with tempfile.TemporaryDirectory(prefix="chatdocs-backup-") as tmp:
            local = Path(tmp) / "copy.sqlite3"
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            dst = sqlite3.connect(local)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dst.close()
                src.close()
            shutil.copyfile(local, partial)
    else:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
    _copy_stat(source, target)


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(_SQLITE_SIDE_FILES)
            and not p.name.endswith(".partial") and not p.name.endswith(".lock")}


def snapshot(data_dir: Path, backup_dir: Path) -> int:
    """Mirror ``data_dir`` into ``backup_dir``; the number of files copied. Files gone from
    the data dir are removed from the backup, unless the data dir is empty (a failed
    restore must not wipe the backup)."""
    source, target = _files(data_dir), _files(backup_dir) if backup_dir.exists() else {}
    copied = 0
    for name, path in source.items():
        old = target.get(name)
        stat = path.stat()
        if old is None or _sqlite_header(path) or old.stat().st_size != stat.st_size \
                or abs(old.stat().st_mtime - stat.st_mtime) > 1:
            _copy_file(path, backup_dir / name)
            copied += 1
    if source:
        for name in target.keys() - source.keys():
            (backup_dir / name).unlink(missing_ok=True)
    return copied


def restore(backup_dir: Path, data_dir: Path) -> int:
    """Copy a backup into an empty data dir (never over existing data); files copied."""
    if not backup_dir.is_dir() or (data_dir.exists() and any(data_dir.iterdir())):
        return 0
    files = _files(backup_dir)
    for name, path in files.items():
        _copy_file(path, data_dir / name)
    return len(files)


class Backup(threading.Thread):
    """Snapshot the data dir to the backup folder every ``every_s`` seconds, in the
    background, until :attr:`stopped` is set."""

    def __init__(self, data_dir: Path, backup_dir: Path, every_s: float = 120) -> None:
        super().__init__(name="data-backup", daemon=True)
        self.data_dir, self.backup_dir, self.every_s = data_dir, backup_dir, every_s
        self.stopped = threading.Event()
        self.last_error: Exception | None = None

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                snapshot(self.data_dir, self.backup_dir)
                self.last_error = None
            except (OSError, sqlite3.Error) as exc:  # network hiccups: try again next round
                self.last_error = exc
                log.warning("backup to %s failed: %s", self.backup_dir, exc)


def run(data_dir: Path, backup_dir: Path, command: list[str], every_s: float) -> int:
    """Run ``command`` with the backup going, then a last snapshot; its exit status."""
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    backup = Backup(data_dir, backup_dir, every_s)
    backup.start()
    code = child.wait()
    backup.stopped.set()
    backup.join()
    try:
        log.info("last snapshot: %d files copied to %s", snapshot(data_dir, backup_dir),
                 backup_dir)
    except (OSError, sqlite3.Error) as exc:
        log.error("last snapshot to %s failed: %s", backup_dir, exc)
        return code or 1
    return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["restore", "run"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("backup_dir", type=Path)
    parser.add_argument("--every", type=float, default=120, metavar="S",
                        help="run: seconds between snapshots (default 120)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run: the app's command")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="chatdocs backup: %(message)s")
    if args.action == "restore":
        restored = restore(args.backup_dir, args.data_dir)
        if restored:
            log.info("restored %d files from %s", restored, args.backup_dir)
        else:
            log.info("nothing restored (no backup in %s, or data already in %s)",
                     args.backup_dir, args.data_dir)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.every <= 0:
        parser.error("run needs --every > 0 and a command after --")
    return run(args.data_dir, args.backup_dir, command, args.every)


if __name__ == "__main__":
    sys.exit(main())
