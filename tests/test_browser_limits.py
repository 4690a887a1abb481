"""Question length in the real app (``streamlit run``, real models) driven by headless
chromium: a 1 MB question pasted into the chat gets a clear message, is not echoed, and
leaves the server's memory where it was (it once took the server from 0.6 to 5.9 GB, a
process every session shares); no turn is added to the conversation."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_server

from rag.service import RagService
from rag.settings import load_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HUGE = 1_000_000
SERVER_PEAK_BOUND_MB = 2048  # the app server with both models loaded, after every input
HUGE_QUESTION_GROWTH_MB = 256


def _server_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(args) and port.encode() in args:
                return int(proc.name)
    raise AssertionError(f"no streamlit process on port {port}")


def _status_mb(pid: int, field: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1)) / 1024


def _models_ready(log_path: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while "models ready" not in log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the app did not load its models"
        time.sleep(0.5)


def _ask(page, text: str) -> None:
    box = page.get_by_test_id("stChatInput").locator("textarea")
    box.fill(text)
    box.press("Enter")


def _idle(page, timeout_ms: int = 90_000) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


def test_huge_question_gets_a_message_and_memory_stays_bounded(tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    service = RagService(load_settings(data))
    text = "Informe de la finca Las Palmas: en 2023 se cosecharon 412 quintales de cacao."
    assert service.ingest_bytes("cacao.txt", text.encode()).status == "added"
    with streamlit_server(data, "streamlit-limits.log") as (url, log_path), \
            sync_playwright() as playwright:
        pid = _server_pid(url)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(url)
            main = page.get_by_role("main")
            expect(page.get_by_test_id("stChatInput").locator("textarea")).to_be_enabled(
                timeout=120_000)
            _models_ready(log_path)  # the app loads both models at start: the baseline
            before = _status_mb(pid, "VmHWM")

            _ask(page, "q" * HUGE)
            message = (f"La pregunta es demasiado larga ({HUGE} caracteres); el máximo es "
                       "2000.")
            expect(main.get_by_test_id("stAlertContentError")).to_contain_text(
                message, timeout=120_000)
            _idle(page)
            assert not main.get_by_text("q" * 100).count()  # not echoed as a chat turn
            after = _status_mb(pid, "VmHWM")

            expect(page.get_by_test_id("stChatInput").locator("textarea")).to_be_enabled()
            assert main.get_by_test_id("stChatMessage").count() == 1  # the welcome: no turn
            assert not page.get_by_test_id("stException").count()
        finally:
            browser.close()
        peak = _status_mb(pid, "VmHWM")
    assert after - before < HUGE_QUESTION_GROWTH_MB, (before, after)
    assert peak < SERVER_PEAK_BOUND_MB, peak
    print(f"app server peak: {before:.0f} MB before, {after:.0f} MB after a 1 MB question, "
          f"{peak:.0f} MB at the end")
    assert "Traceback" not in log_path.read_text(errors="replace")
