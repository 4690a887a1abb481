"""Helpers for ``notebooks/colab.ipynb`` (standard library only: they run in Colab's own
Python before the project's environment exists).

- :func:`llama_cuda_wheel`: a CUDA build of the pinned llama-cpp-python: a wheel cached on
  Google Drive, else a prebuilt one for this CUDA runtime, else a source build for this GPU
  (then cached).
- :func:`restore` / :func:`snapshot` / :class:`Backup` (from ``deploy.backup``): the data
  directory lives on the VM's disk (SQLite and FAISS want a real file system, not Drive's
  FUSE mount) and is copied to Drive consistently.
- :func:`start_app`, :func:`start_tunnel`: ``streamlit run`` in the background, and a public
  HTTPS URL (a cloudflared quick tunnel, or the ngrok agent when given a token).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from deploy.backup import Backup, restore, snapshot

__all__ = ["Backup", "Gpu", "detect_gpu", "llama_cuda_wheel", "restore", "snapshot",
           "start_app", "start_tunnel"]

log = logging.getLogger(__name__)

LLAMA_VERSION = "0.3.36"  # keep in step with scripts/install.sh
PREBUILT_INDEX = "https://abetlen.github.io/llama-cpp-python/whl/{tag}"
CLOUDFLARED_URL = ("https://github.com/cloudflare/cloudflared/releases/latest/download/"
                   "cloudflared-linux-amd64")
NGROK_URL = "https://bin.equinox.io/c/bNyj1mQVY4c/ngrok-v3-stable-linux-amd64.tgz"
CUDA_BIN = "/usr/local/cuda/bin"  # where Colab's toolkit is when nvcc is not on PATH
_TUNNEL_URL = re.compile(r"https://[a-z0-9-]+\.trycloudflare\.com")


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
    nvcc = shutil.which("nvcc") or shutil.which("nvcc", path=CUDA_BIN)
    try:
        query = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, check=True, timeout=30).stdout
        version = subprocess.run([nvcc or "nvcc", "--version"], capture_output=True,
                                 text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"release (\d+\.\d+)", version)
    name, _, capability = (query.strip().splitlines() or [""])[0].rpartition(",")
    if not (match and name.strip() and re.fullmatch(r"\d+\.\d+", capability.strip())):
        return None
    return Gpu(name.strip(), capability.strip(), match.group(1))


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
    ``public_origin`` (the tunnel's https://... address) goes to
    ``server.corsAllowedOrigins``: Streamlit then accepts a websocket from that host name
    even when the tunnel rewrites the Host header (it accepts a matching Host anyway)."""
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


def ngrok_url(line: str) -> str | None:
    """The public address in a line of the ngrok agent's JSON log ("started tunnel")."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("msg") != "started tunnel":
        return None
    url = record.get("url")
    return url if isinstance(url, str) and url.startswith("https://") else None


def _first_url(stream: IO[str], parse: Callable[[str], str | None],
               timeout_s: float) -> str | None:
    """The first URL ``parse`` finds in ``stream``'s lines within ``timeout_s`` (``None``
    when the process ends or stays silent). A thread reads the lines and keeps draining
    them afterwards, so the process never blocks on a full pipe."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="tunnel-log", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            return None
        log.debug("tunnel: %s", line.rstrip())
        if url := parse(line):
            return url
    return None


def _download(url: str, binary: Path) -> None:
    """Fetch a tunnel agent (a bare binary or a .tgz holding one) to ``binary``."""
    fetched, _ = urllib.request.urlretrieve(url)  # noqa: S310 (a fixed https URL)
    if url.endswith(".tgz"):
        with tarfile.open(fetched) as archive:
            member = archive.getmember(binary.name)
            with archive.extractfile(member) as src, open(binary, "wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst)
    else:
        shutil.move(fetched, binary)
    binary.chmod(0o755)


def tunnel_command(port: int, workdir: Path, ngrok_token: str = "") -> list[str]:
    """The tunnel agent's command line (downloaded into ``workdir`` the first time): ngrok
    with ``ngrok_token``, else a cloudflared quick tunnel (no account)."""
    name = "ngrok" if ngrok_token else "cloudflared"
    binary = workdir / name
    if not binary.exists():
        _download(NGROK_URL if ngrok_token else CLOUDFLARED_URL, binary)
    if ngrok_token:
        return [str(binary), "http", f"http://127.0.0.1:{port}", "--authtoken", ngrok_token,
                "--log", "stdout", "--log-format", "json"]
    return [str(binary), "tunnel", "--no-autoupdate", "--url", f"http://127.0.0.1:{port}"]


def start_tunnel(port: int, workdir: Path, ngrok_token: str = "",
                 timeout_s: float = 60) -> tuple[str, subprocess.Popen]:
    """A public HTTPS URL for 127.0.0.1:``port`` and the agent process that keeps it open
    (``terminate()`` closes it). Raises ``RuntimeError`` when no URL comes in ``timeout_s``."""
    command = tunnel_command(port, workdir, ngrok_token)
    # cloudflared logs to stderr; ngrok, as asked, to stdout.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE if ngrok_token else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL if ngrok_token else subprocess.PIPE,
                            text=True, start_new_session=True)
    stream = proc.stdout if ngrok_token else proc.stderr
    assert stream is not None
    url = _first_url(stream, ngrok_url if ngrok_token else tunnel_url, timeout_s)
    if url:
        return url, proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    agent = "ngrok" if ngrok_token else "cloudflared"
    raise RuntimeError(f"{agent} gave no URL (waited up to {timeout_s:.0f} s); re-run the cell"
                       + ("" if ngrok_token else " (or give an ngrok token)"))
