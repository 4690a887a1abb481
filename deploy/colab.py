"""Helpers for ``notebooks/colab.ipynb`` (standard library only: they run in Colab's own
Python before the project's environment exists).

- :func:`llama_cuda_wheel`: a CUDA build of the pinned llama-cpp-python: a wheel cached on
  Google Drive, else a prebuilt one for this CUDA runtime, else a source build for this GPU
  (then cached).
- :func:`restore` / :func:`snapshot` / :class:`Backup`: the data directory lives on the
  VM's disk (SQLite and FAISS want a real file system, not Drive's FUSE mount) and is copied
  to Drive consistently: SQLite files through SQLite's backup API, others atomically.
- :func:`start_app`, :func:`start_tunnel`: ``streamlit run`` in the background, and a public
  HTTPS URL (cloudflared quick tunnel, or ngrok when given a token).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LLAMA_VERSION = "0.3.36"  # keep in step with scripts/install.sh
PREBUILT_INDEX = "https://abetlen.github.io/llama-cpp-python/whl/{tag}"
CLOUDFLARED_URL = ("https://github.com/cloudflare/cloudflared/releases/latest/download/"
                   "cloudflared-linux-amd64")
_TUNNEL_URL = re.compile(r"https://[a-z0-9-]+\.trycloudflare\.com")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


# --- llama-cpp-python for CUDA ---------------------------------------------------------

@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: str  # "7.5" for a T4
    cuda_runtime: str        # the toolkit's version, "12.5"

    @property
    def arch(self) -> str:
        return self.compute_capability.replace(".", "")


def detect_gpu() -> Gpu | None:
    """The first NVIDIA GPU and the CUDA toolkit's version, or ``None`` without both."""
    try:
        query = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, check=True, timeout=30).stdout
        nvcc = subprocess.run(["nvcc", "--version"], capture_output=True, text=True,
                              check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"release (\d+\.\d+)", nvcc)
    name, _, capability = query.splitlines()[0].rpartition(",")
    return Gpu(name.strip(), capability.strip(), match.group(1)) if match else None


def prebuilt_tags(cuda_runtime: str) -> list[str]:
    """Index tags of prebuilt CUDA wheels (cu121 ... cu125) that run on this runtime, best
    first: the same version, else the newest older 12.x (CUDA's minor-version
    compatibility); none for another major version."""
    major, minor = (int(x) for x in cuda_runtime.split(".")[:2])
    if major != 12 or minor < 1:
        return []
    return [f"cu12{m}" for m in range(min(minor, 5), 0, -1)]


def wheel_cache_key(gpu: Gpu) -> str:
    """Where a wheel for this Python, CUDA runtime and GPU architecture is cached."""
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return f"llama-cpp-python-{LLAMA_VERSION}-{py}-cuda{gpu.cuda_runtime}-sm{gpu.arch}"


def llama_cuda_wheel(gpu: Gpu, cache_dir: Path, python: str = sys.executable) -> Path:
    """A CUDA wheel of the pinned llama-cpp-python for ``gpu``: cached, prebuilt, or built
    (~15-25 min on Colab's two cores; cached in ``cache_dir`` for the next session)."""
    folder = cache_dir / wheel_cache_key(gpu)
    cached = sorted(folder.glob("llama_cpp_python-*.whl"))
    if cached:
        log.info("using the cached %s", cached[-1].name)
        return cached[-1]
    folder.mkdir(parents=True, exist_ok=True)
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    for tag in prebuilt_tags(gpu.cuda_runtime):
        got = subprocess.run(
            [*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(folder),
             "--index-url", PREBUILT_INDEX.format(tag=tag), f"llama-cpp-python=={LLAMA_VERSION}"],
            capture_output=True, text=True)
        found = sorted(folder.glob("llama_cpp_python-*.whl"))
        if got.returncode == 0 and found:
            log.info("prebuilt wheel %s (%s)", found[-1].name, tag)
            return found[-1]
    log.info("no prebuilt wheel for CUDA %s: building for sm_%s", gpu.cuda_runtime, gpu.arch)
    flags = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2),
               CFLAGS=flags, CXXFLAGS=flags,
               CMAKE_ARGS=f"-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES={gpu.arch} "
                          "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON")
    subprocess.run([*pip, "wheel", "--no-deps", "--no-cache-dir", "-w", str(folder),
                    f"llama-cpp-python=={LLAMA_VERSION}"], env=env, check=True)
    return sorted(folder.glob("llama_cpp_python-*.whl"))[-1]


# --- data directory on Google Drive ------------------------------------------------------

def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(16) == _SQLITE_MAGIC


def _copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically; SQLite databases through the backup
    API, so a database in WAL mode is copied with its committed transactions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    if _is_sqlite(source):
        partial.unlink(missing_ok=True)
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, \
                sqlite3.connect(partial) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        dst.close()
        src.close()
    else:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
    shutil.copystat(source, target)


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
        if old is None or _is_sqlite(path) or old.stat().st_size != stat.st_size \
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
    """Snapshot the data dir to Drive every ``every_s`` seconds, in the background."""

    def __init__(self, data_dir: Path, backup_dir: Path, every_s: float = 120) -> None:
        super().__init__(name="drive-backup", daemon=True)
        self.data_dir, self.backup_dir, self.every_s = data_dir, backup_dir, every_s
        self.stopped = threading.Event()
        self.last_error: Exception | None = None

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                snapshot(self.data_dir, self.backup_dir)
                self.last_error = None
            except (OSError, sqlite3.Error) as exc:  # Drive hiccups: try again next round
                self.last_error = exc
                log.warning("backup to %s failed: %s", self.backup_dir, exc)


# --- the app and its public URL -----------------------------------------------------------

def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=3) as response:  # noqa: S310 (http to the app)
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


def start_app(project_dir: Path, port: int, env: dict[str, str], log_file: Path,
              public_origin: str | None = None) -> subprocess.Popen:
    """``streamlit run serve.py`` (as ``make run``) from the project's environment, in the
    background, on 127.0.0.1:``port``; returns once ``/_stcore/health`` answers.
    ``public_origin`` (the tunnel's https://... address) is the one other origin allowed
    to open the websocket, whatever Host header the tunnel passes on."""
    command = [str(project_dir / ".venv" / "bin" / "python"), "-m", "streamlit", "run",
               "serve.py", "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.headless", "true"]
    if public_origin:
        command += ["--server.corsAllowedOrigins", public_origin]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(command, cwd=project_dir, env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def tunnel_url(line: str) -> str | None:
    """The public address in a line of cloudflared's log, if it has one."""
    match = _TUNNEL_URL.search(line)
    return match.group(0) if match and "api.trycloudflare.com" not in match.group(0) else None


def start_tunnel(port: int, workdir: Path, ngrok_token: str = "",
                 timeout_s: float = 60) -> tuple[str, object]:
    """A public HTTPS URL for 127.0.0.1:``port`` and the handle that keeps it open: ngrok
    (pyngrok) when ``ngrok_token`` is given, else a cloudflared quick tunnel (no account)."""
    if ngrok_token:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyngrok"], check=True)
        from pyngrok import conf, ngrok

        conf.get_default().auth_token = ngrok_token
        listener = ngrok.connect(str(port), "http")
        return listener.public_url, listener
    binary = workdir / "cloudflared"
    if not binary.exists():
        urllib.request.urlretrieve(CLOUDFLARED_URL, binary)
        binary.chmod(0o755)
    proc = subprocess.Popen([str(binary), "tunnel", "--no-autoupdate", "--url",
                             f"http://127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    assert proc.stderr is not None
    for line in proc.stderr:
        url = tunnel_url(line)
        if url:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
            return url, proc
        if time.monotonic() > deadline:
            break
    proc.terminate()
    raise RuntimeError("cloudflared gave no URL; re-run the cell (or give an ngrok token)")
