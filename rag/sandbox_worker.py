"""The worker side of :mod:`rag.sandbox`: ``python -m rag.sandbox_worker MEMORY_MB`` limits
its own memory (``RLIMIT_AS``), then parses one file per request from stdin and answers one
JSON line per file on stdout (the protocol is described in :mod:`rag.sandbox`). It exits
when its input ends or its parent dies."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time

from rag.errors import RagError
from rag.loaders import ParseOptions, load_bytes

log = logging.getLogger(__name__)

EXIT_MEMORY = 3  # the exit status after a MemoryError


def _limit_resources(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: no memory limit, the timeout still applies
        return
    limit = memory_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an aborted parser dumps no core


def _exit_with_parent() -> None:
    """If the app dies (even by kill -9) a busy worker must not linger: poll the parent."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _read_exact(stream, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        part = stream.read(left)
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _reply_for(data: bytes, name: str, options: ParseOptions) -> dict[str, object]:
    try:
        doc = load_bytes(data, name, options)
    except RagError as exc:
        params = {k: v for k, v in exc.params.items()
                  if v is None or isinstance(v, str | int | float)}
        return {"ok": False, "error": type(exc).__name__, "message": exc.message,
                "params": params}
    except MemoryError:
        raise
    except Exception:  # a parser bug on a strange file: say "damaged", log the details
        log.exception("parser failure on %s", name)
        return {"ok": False, "error": "CorruptFileError",
                "message": f"{name} is damaged or incomplete and could not be read."}
    return {"ok": True, "kind": doc.kind, "pages": doc.pages, "warnings": doc.warnings,
            "sections": [[s.text, s.page, s.heading] for s in doc.sections],
            "ocr": {"pages": doc.ocr_pages, "confidence": doc.ocr_confidence}}


def _send(out, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[out.write(view):]


def serve(memory_mb: int) -> int:
    """The worker: parse requests from stdin until it closes."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # stdout is the protocol: stray prints (ours or C code's) go to stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_resources(memory_mb)
    _exit_with_parent()
    logging.basicConfig(level=logging.WARNING, format="rag.sandbox: %(levelname)s %(message)s")
    import docx  # noqa: F401  (warm up: import the parsers once, not per file)
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract: one thread (see rag.sandbox)
    with contextlib.suppress(ImportError):
        import tesserocr  # noqa: F401

    _send(out, json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    stdin = sys.stdin.buffer
    while True:
        header = stdin.readline(65536)
        if not header:
            return 0
        request = json.loads(header)
        data = _read_exact(stdin, int(request["size"]))
        if data is None:
            return 0
        def progress(stage: str, done: int, total: int) -> None:
            _send(out, json.dumps({"progress": [stage, done, total]}).encode() + b"\n")

        options = ParseOptions(ocr=str(request.get("ocr", "auto")), progress=progress)
        try:
            reply = json.dumps(_reply_for(data, str(request["name"]), options),
                               ensure_ascii=False)
            del data
            _send(out, reply.encode("utf-8", errors="replace") + b"\n")  # lone surrogates
        except MemoryError:
            _send(out, b'{"ok": false, "error": "memory"}\n')
            return EXIT_MEMORY


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
