"""Shared by the browser tests: start ``streamlit run app.py`` (real models) on a free
loopback port with a given data dir, and the chromium/playwright settings.

The ``server`` fixture in ``conftest.py`` uses :func:`streamlit_server` with an empty data
dir; a test that needs a preloaded library calls :func:`streamlit_server` itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(url: str, timeout_s: float = 2) -> bytes:
    """The body of ``/_stcore/health`` (``b"ok"`` when healthy); raises if not 200."""
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout_s) as response:
        assert response.status == 200, response.status
        return response.read().strip()


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            if health(url) == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy after {timeout_s} s")


def server_env(data: Path, **settings: str) -> dict[str, str]:
    """The environment for the server (and CLI runs beside it): ``RAG_DATA_DIR`` and
    ``RAG_<KEY>`` for each of ``settings``; no other ``RAG_*`` leaks in. Accounts are off
    (single-person mode) unless ``auth="on"``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(data)
    env["RAG_AUTH"] = "off"
    env.update({f"RAG_{key.upper()}": value for key, value in settings.items()})
    return env


@contextmanager
def streamlit_server(data: Path, log_name: str = "streamlit.log", script: str = "app.py",
                     **settings: str) -> Iterator[tuple[str, Path]]:
    """``streamlit run <script>`` on a free port over the data dir ``data`` (plus ``RAG_*``
    ``settings``); killed on exit, its log copied to ``test-artifacts/<log_name>``. Yields
    its URL and its log file. ``script="serve.py"`` is how ``make run`` serves the app
    (with the login-cookie routes)."""
    port = free_port()
    log_path = data / "streamlit.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1"],
            cwd=ROOT, env=server_env(data, **settings), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / log_name).write_text(log_path.read_text(errors="replace"))


def require_chromium() -> None:
    """Fail, never skip, when Debian's chromium is missing: ``make test`` installs it
    (scripts/install.sh --dev), so its absence is a broken set-up, not an optional test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed (scripts/install.sh --dev installs it)")
