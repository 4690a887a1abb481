"""Shared helpers: statistics, child processes with their own peak memory, run metadata."""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PROTOCOL_PREFIX = "@@bench "


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every child: offline models, no stray RAG_* settings, quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


class WorkerError(RuntimeError):
    pass


def run_worker(task: str, config: dict, work: Path, *, timeout: float = 3600,
               profile: Path | None = None) -> dict:
    """Run ``python -m bench.worker TASK`` in a fresh process and return its JSON result
    with ``max_rss_mb``: that child's own peak resident memory (``wait4`` rusage).

    With ``profile``, the child runs under ``py-spy record`` (collapsed stacks written to
    that path); its memory figure then is not reported."""
    work.mkdir(parents=True, exist_ok=True)
    stamp = f"{task}-{time.time_ns()}"
    config_path, result_path = work / f"{stamp}.config.json", work / f"{stamp}.result.json"
    log_path = work / f"{stamp}.log"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    command = [PYTHON, "-m", "bench.worker", task, str(config_path), str(result_path)]
    if profile is not None:
        spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        command = [spy, "record", "--format", "raw", "--rate", "50", "--subprocesses",
                   "-o", str(profile), "--", *command]
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=log,
                                   stderr=subprocess.STDOUT)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise WorkerError(f"worker {task} failed (exit {process.returncode}, "
                          f"{shlex.join(command[-3:])}):\n{tail}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["process_wall_s"] = round(wall, 3)
    if profile is None:
        result["max_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return result


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_meta() -> dict[str, object]:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "missing"

    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="ignore")
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                      if ln.startswith("model name")), platform.processor())
        flags = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    except OSError:
        model, flags = platform.processor(), ""
    packages = ["torch", "transformers", "sentence-transformers", "numpy", "llama_cpp_python",
                "faiss-cpu", "pypdfium2", "pypdf", "langchain-core", "langchain-community",
                "langchain-huggingface", "langchain-text-splitters", "streamlit", "playwright"]
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": model, "cores": os.cpu_count(),
        "native_bf16": " avx512_bf16" in flags or " amx_bf16" in flags,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "packages": {p: version(p) for p in packages},
    }


class IngestClient:
    """A long-lived ``bench.worker serve-ingest-SIDE`` process, driven file by file, so that
    the project's and the baseline's ingests interleave; ``close()`` gives its peak memory."""

    def __init__(self, side: str, config: dict, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        stamp = f"serve-{side}-{time.time_ns()}"
        config_path = work / f"{stamp}.config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        self.log_path = work / f"{stamp}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.worker", f"serve-ingest-{side}", str(config_path)],
            cwd=ROOT, env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, text=True, encoding="utf-8")
        self.info = self._read()

    def _read(self) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(PROTOCOL_PREFIX):
                return json.loads(line[len(PROTOCOL_PREFIX):])
        self._log.flush()
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise WorkerError(f"ingest worker died (exit {self.process.poll()}):\n{tail}")

    def call(self, op: str, *args: object) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> float | None:
        """Stop the worker; its own peak resident memory in MB (``wait4`` rusage)."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        deadline = time.monotonic() + 60
        while True:
            pid, _status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.process.kill()
                _pid, _status, usage = os.wait4(self.process.pid, 0)
                break
            time.sleep(0.05)
        self.process.returncode = 0
        self._log.close()
        return round(usage.ru_maxrss / 1024, 1)
