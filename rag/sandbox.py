"""Parse untrusted uploads in a worker process, with a time limit and a memory limit.

A hostile file (a decompression bomb, a page tree that loops, a parser bug) can make
pdfium, pypdf or lxml allocate gigabytes, spin or crash. In the app's own process that
would take the app down; here it costs one worker, and the upload gets a specific message:

- longer than ``timeout_s`` (``Settings.parse_timeout_s``): the worker is killed and
  :class:`~rag.errors.ParseTimeoutError` says "x.pdf took longer than 120 s to read and was
  skipped.";
- more memory than ``memory_mb`` (``Settings.parse_memory_mb``, enforced in the worker with
  ``RLIMIT_AS``): :class:`~rag.errors.FileTooLargeError` says "x.pdf needs more than 1024 MB
  of memory to read and was skipped.";
- any other crash of the worker: :class:`~rag.errors.CorruptFileError`.

Workers (``python -m rag.sandbox_worker MEMORY_MB``, see :mod:`rag.sandbox_worker`) are
kept warm and reused, one file at a time each, so ingesting a hundred small files pays for
one process start, not a hundred.

No pickle crosses the process boundary, in either direction. The worker has just parsed an
attacker's file, so what it sends back is untrusted: the parent reads it as JSON and checks
every field before it builds a :class:`~rag.schema.LoadedDocument` (``multiprocessing``
would unpickle the worker's output, which is code execution if the worker is subverted).

Protocol, over the worker's stdin and stdout: the worker first sends ``{"ready": true}``;
each request is one JSON line ``{"name": ..., "size": N}`` followed by ``N`` raw bytes; each
reply is one JSON line, ``{"ok": true, "kind", "pages", "warnings", "sections": [[text,
page, heading], ...]}`` or ``{"ok": false, "error": <DocumentError class name>, "message",
"params"}``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rag.errors import (
    CorruptFileError,
    DocumentError,
    FileTooLargeError,
    ParseTimeoutError,
)
from rag.loaders import ParseOptions, ocr, safe_file_name
from rag.sandbox_reply import document_of, parse_json, progress_of
from rag.sandbox_worker import EXIT_MEMORY
from rag.schema import LoadedDocument

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # a worker that is not ready by then is broken
MAX_FILES_PER_WORKER = 500  # then it is replaced: big files leave a fragmented heap behind
IDLE_CLOSE_S = 600.0  # idle workers older than this are closed
OCR_PAGE_S = 60.0  # each OCR'd page may take this long (slow CPUs, busy machines)
# How a worker over its memory limit dies: MemoryError (Python), abort (pdfium's allocator
# aborts when the limit refuses it memory), SIGKILL (the kernel's OOM killer).
_MEMORY_DEATHS = (EXIT_MEMORY, -signal.SIGABRT, -signal.SIGKILL)
_ROOT = Path(__file__).resolve().parent.parent  # where the worker finds rag


def load_bytes(data: bytes, file_name: str, *, timeout_s: float = 120.0,
               memory_mb: int = 1024, options: ParseOptions | None = None) -> LoadedDocument:
    """:func:`rag.loaders.load_bytes` in a worker process: the same document, or the same
    :class:`~rag.errors.DocumentError`, plus the time and memory limits. Each page the
    worker OCRs extends the time limit by :data:`OCR_PAGE_S` (``options.progress`` hears
    of it), up to :data:`rag.loaders.ocr.MAX_OCR_S` more in all."""
    name = safe_file_name(file_name)
    reply = _pool(memory_mb).run(data, name, timeout_s, options or ParseOptions())
    return document_of(reply, name, data)


def stats() -> dict[str, int]:
    """Workers started so far and idle now, over all memory limits (tests, benchmarks)."""
    with _pools_lock:
        pools = list(_pools.values())
    return {"started": sum(p.started for p in pools), "idle": sum(len(p.idle) for p in pools)}


def shutdown() -> None:
    """Close every idle worker (at exit; busy ones are closed when their file is done)."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.close_idle()


class _Worker:
    """One ``python -m rag.sandbox_worker`` process and its pipes."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.files = 0
        self.last_used = time.monotonic()
        self._buffer = bytearray()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract: 1 thread (workers run in parallel)
        # OCR reads pages on threads; glibc would reserve 64 MB of address space for each
        # thread's heap, which counts against the worker's RLIMIT_AS.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        self.proc = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "rag.sandbox_worker", str(memory_mb)], cwd=_ROOT, env=env,
            bufsize=0, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        # Linux carries the parent's peak resident set into a child's ru_maxrss across
        # fork/exec, so the worker's own peak shows only when it is above the app's. Read
        # after the spawn: other threads of the app may have grown it until the exec.
        self._inherited_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self.alive = True
        try:
            line = self._read_line(time.monotonic() + START_TIMEOUT_S)
        except TimeoutError:
            line = None
        ready = parse_json(line) if line is not None else None
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            status, peak_mb = self.kill()
            raise OSError(f"the worker did not start (exit status {status}, {peak_mb:.0f} MB)")

    def parse(self, data: bytes, name: str, timeout_s: float,
              options: ParseOptions) -> object:
        """The worker's reply for one file, or the error its death or slowness means."""
        self.files += 1
        deadline = time.monotonic() + timeout_s
        # OCR extends the deadline page by page, up to the worker's own OCR time budget.
        ceiling = deadline + ocr.MAX_OCR_S + 2 * OCR_PAGE_S
        header = json.dumps({"name": name, "size": len(data), "ocr": options.ocr}).encode()
        try:
            self._write(header + b"\n", deadline)
            self._write(data, deadline)
            line = self._read_line(deadline)
            while (step := progress_of(line)) is not None:  # OCR, page by page
                if step[1]:
                    deadline = min(ceiling, max(deadline, time.monotonic() + OCR_PAGE_S))
                if options.progress is not None:
                    options.progress(*step)
                line = self._read_line(deadline)
        except TimeoutError:
            self.kill()
            raise ParseTimeoutError(f"{name} took longer than {timeout_s:g} s to read and was "
                                    "skipped.", name=name, seconds=timeout_s) from None
        except OSError:  # the worker died while reading the request (EPIPE)
            line = None
        reply = parse_json(line) if line is not None else None
        if isinstance(reply, dict) and reply.get("error") != "memory":
            self.last_used = time.monotonic()
            return reply
        status, peak_mb = self.kill()  # it is dead (or talks nonsense): reap it
        log.warning("document reader failed on %s: exit status %s, peak %.0f MB", name, status,
                    peak_mb)
        if line is not None and not isinstance(reply, dict):
            return None  # not our protocol: document_of() says "no usable answer"
        if reply is not None or status in _MEMORY_DEATHS or peak_mb >= 0.5 * self.memory_mb:
            raise FileTooLargeError(f"{name} needs more than {self.memory_mb} MB of memory to "
                                    "read and was skipped.", name=name, limit_mb=self.memory_mb)
        raise CorruptFileError(f"{name} could not be read: the document reader crashed on it "
                               "(the file is probably damaged).", name=name)

    def close(self) -> None:
        """Let the worker exit (end of its input), or kill it if it does not."""
        if not self.alive:
            return
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=2)
            self.alive = False
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> tuple[int, float]:
        """Kill and reap the worker: (exit status as subprocess gives it, peak memory MB)."""
        if not self.alive:
            return self.proc.returncode or 0, 0.0
        self.alive = False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)  # not Popen.kill: it would reap (no rusage)
        try:
            _, status, usage = os.wait4(self.proc.pid, 0)
        except ChildProcessError:  # reaped already (see exited())
            return self.proc.wait(), 0.0
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
        own_kb = usage.ru_maxrss if usage.ru_maxrss > self._inherited_kb else 0  # Linux: kB
        return self.proc.returncode, own_kb / 1024

    def exited(self) -> bool:
        """True if the worker is gone (it was killed while idle, say)."""
        if self.alive and self.proc.poll() is not None:
            self.alive = False
            for pipe in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()  # type: ignore[union-attr]
        return not self.alive

    def _write(self, data: bytes, deadline: float) -> None:
        view, poller = memoryview(data), select.poll()
        poller.register(self._in, select.POLLOUT)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if poller.poll(left * 1000):
                try:
                    view = view[os.write(self._in, view[: 1 << 20]):]
                except BlockingIOError:
                    continue

    def _read_line(self, deadline: float) -> bytes | None:
        """The next line from the worker; None when it closed its output (it died)."""
        poller = select.poll()
        poller.register(self._out, select.POLLIN)
        while True:
            at = self._buffer.find(b"\n")
            if at >= 0:
                line = bytes(self._buffer[:at])
                del self._buffer[: at + 1]
                return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if poller.poll(left * 1000):
                chunk = os.read(self._out, 1 << 20)
                if not chunk:
                    return None
                self._buffer += chunk


class _Pool:
    """Warm workers for one memory limit; at most ``size`` files are parsed at once."""

    def __init__(self, memory_mb: int, size: int) -> None:
        self.memory_mb = memory_mb
        self.idle: list[_Worker] = []
        self.started = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def run(self, data: bytes, name: str, timeout_s: float, options: ParseOptions) -> object:
        with self._slots:  # waiting for a free slot does not count against the timeout
            worker = self._take(name)
            try:
                reply = worker.parse(data, name, timeout_s, options)
            except BaseException:
                worker.kill()
                raise
            with self._lock:
                if worker.alive and worker.files < MAX_FILES_PER_WORKER:
                    self.idle.append(worker)
                    worker = None
            if worker is not None:
                worker.close()
            return reply

    def _take(self, name: str) -> _Worker:
        with self._lock:
            now = time.monotonic()
            stale = [w for w in self.idle if now - w.last_used > IDLE_CLOSE_S or w.exited()]
            self.idle = [w for w in self.idle if w not in stale]
            worker = self.idle.pop() if self.idle else None
        for old in stale:
            old.close()
        if worker is not None:
            return worker
        try:
            worker = _Worker(self.memory_mb)
        except OSError as exc:
            log.error("cannot start the document reader: %s", exc)
            raise DocumentError(f"{name} could not be read: the document reader could not "
                                f"start ({exc}).", name=name) from exc
        with self._lock:
            self.started += 1
        return worker

    def close_idle(self) -> None:
        with self._lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.close()


_pools: dict[int, _Pool] = {}
_pools_lock = threading.Lock()


def _pool(memory_mb: int) -> _Pool:
    with _pools_lock:
        if memory_mb not in _pools:
            _pools[memory_mb] = _Pool(memory_mb, max(1, min(4, os.cpu_count() or 1)))
        return _pools[memory_mb]


atexit.register(shutdown)
