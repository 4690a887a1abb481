"""Cold start: from ``streamlit run`` to a ready page in a real browser.

For each app: start ``python -m streamlit run APP --server.headless true --server.port P``
(with an empty ``RAG_DATA_DIR``), poll ``/_stcore/health`` until it answers ``ok``, then load
the page in headless Debian chromium (through the ``playwright`` package, never
``playwright install``) until the app's sidebar or main content appears. The browser is
started before the app, so its own start-up is not counted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import PYTHON, ROOT, child_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]
# What the page shows: the app's title (an h1 in the main block) is the ready page; the
# sidebar's own content (not only the page navigation, which Streamlit draws before the
# script runs) and other main-block elements are recorded too, as fallbacks for an app
# without a title. An exception block ends the wait (reported as an error).
STATE_JS = """() => {
  const q = (s) => document.querySelector(s);
  return {
    exception: !!q('[data-testid="stException"]'),
    title: !!q('[data-testid="stMain"] h1, [data-testid="stMainBlockContainer"] h1'),
    sidebar: !!q('[data-testid="stSidebarUserContent"] [data-testid="stElementContainer"]'),
    main: !!q('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]'
              + ':not(:has([data-testid="stSkeleton"]))'),
  };
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> float | None:
    """Stop the server (its whole process group); its peak memory in MB."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid, _status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return round(usage.ru_maxrss / 1024, 1)
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    _pid, _status, usage = os.wait4(process.pid, 0)
    return round(usage.ru_maxrss / 1024, 1)


def measure_once(browser, app: Path, env_extra: dict[str, str], timeout: float,
                 log_path: Path) -> dict[str, object]:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="bench-cold-")
    env = child_env(RAG_DATA_DIR=data_dir, **env_extra)
    command = [PYTHON, "-m", "streamlit", "run", str(app), "--server.headless", "true",
               "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    result: dict[str, object] = {"app": str(app.relative_to(ROOT))}
    page = None
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = started + timeout
            while not _healthy(port):
                if process.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {process.returncode}")
                if time.perf_counter() > deadline:
                    raise TimeoutError("no /_stcore/health answer")
                time.sleep(0.05)
            result["health_s"] = time.perf_counter() - started
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit",
                      timeout=timeout * 1000)
            seen: dict[str, float] = {}
            while time.perf_counter() < deadline:
                state = page.evaluate(STATE_JS)
                now = time.perf_counter() - started
                for key, present in state.items():
                    if present:
                        seen.setdefault(key, now)
                if state["title"] or state["exception"]:
                    break
                time.sleep(0.05)
            result["seen_s"] = seen
            for key in ("title", "main", "sidebar"):
                if key in seen:
                    result["render_s"], result["rendered"] = seen[key], key
                    break
            if "exception" in seen:
                text = page.inner_text('[data-testid="stException"]')[:500]
                result["error"] = f"the app raised: {text}"
            elif "render_s" not in result:
                result["error"] = f"nothing rendered within {timeout:.0f} s"
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            if page is not None:
                page.close()
            result["server_max_rss_mb"] = _stop(process)
            shutil.rmtree(data_dir, ignore_errors=True)
    return result


def measure(apps: dict[str, tuple[Path, dict[str, str]]], repeats: int, log_path: Path,
            timeout: float = 180.0) -> dict[str, list[dict[str, object]]]:
    """``repeats`` cold starts of each app, interleaved (the order alternates)."""
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[dict[str, object]]] = {name: [] for name in apps}
    missing = {name: f"{path.relative_to(ROOT)} not found" for name, (path, _) in apps.items()
               if not path.is_file()}
    if not Path(CHROMIUM).exists():
        return {name: [{"error": f"{CHROMIUM} not found (apt-get install chromium)"}]
                for name in apps}
    names = list(apps)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            for r in range(repeats):
                for name in (names if r % 2 == 0 else names[::-1]):
                    if name in missing:
                        runs[name].append({"error": missing[name]})
                        continue
                    path, env_extra = apps[name]
                    runs[name].append(measure_once(browser, path, env_extra, timeout, log_path))
        finally:
            browser.close()
    return runs
