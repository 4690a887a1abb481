"""Many users at once against a real ``streamlit run app.py`` (real models: the multilingual
embedder and SmolLM2; answers capped at ``RAG_MAX_TOKENS=48`` and prompts kept short with
``RAG_TOP_K=2``, as the box is small and shared), in a real browser.

Four documents are ingested with the CLI into the data dir before the server starts. Then
8 browser tabs (one chromium, one context each, so 8 Streamlit sessions) get ready and, on
one signal, act at once:

- 3 ask a question in the chat (one per preloaded document; the model is one instance
  behind a lock, so they queue),
- 4 upload a different small file each (.md, .pdf, .docx, .txt) through the uploader,
- 1 deletes a preloaded document through the Documents page (pick it in "Eliminar o
  re-indexar", press "Eliminar").

Every action has a timeout and the whole burst a cap. Afterwards: the server still answers
``/_stcore/health``; no tab shows an exception or an error box; a fresh tab's library table
and ``python -m rag list --json`` list exactly the preloaded documents minus the deleted
one plus every upload, each once; the store on disk is consistent (``check_store``); and
every source an answer cites is a document that existed during the run. Per-tab timings go
to ``test-artifacts/concurrency.json``.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    health,
    require_chromium,
    server_env,
    streamlit_server,
)
from store_checks import check_store, write_document

from rag.embedding import embedder_class
from rag.library import library_root

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BURST_S = 150  # the whole burst of actions
ACTION_S = 120  # one action (a question waits for the others' answers: one model)
READY_S = 90  # opening a tab and getting it ready (the first waits for the models to load)
PRELOADED = {
    "lighthouse.md": "# Lighthouse\n\nThe Punta Lagunaverde lighthouse is 47 metres tall. "
                     "It was built in 1911 by the engineer Tomas Arriaga.\n",
    "bridge.txt": "The Rio Claro bridge was opened in 1932. The Rio Claro bridge is 210 "
                  "metres long and carries the coast road.\n",
    "windmill.md": "# Windmill\n\nThe Santa Ana windmill grinds 900 kilos of maize every "
                   "day. It stands on the hill above the harbour.\n",
    "old-ferry.txt": "The old ferry timetable: the ferry to Cayo Verde left at nine every "
                     "Monday. This service ended long ago.\n",
}
DELETED = "old-ferry.txt"
QUESTIONS = ["How tall is the Punta Lagunaverde lighthouse?",
             "When was the Rio Claro bridge opened?",
             "How many kilos of maize does the Santa Ana windmill grind every day?"]
UPLOAD_SEEDS = [201, 202, 203, 204]  # doc-201.md, doc-202.pdf, doc-203.docx, doc-204.txt
# "[1] manual.pdf, pág. 3 · Section": the file name, without page or section
CITATION = re.compile(r"\[\d+\] (.+?)(?:, pág\. \d+)?(?: · (?!\[\d+\] )[^·]+?)?(?= · \[\d+\] |$)")
BADGE = re.compile(r"Respaldo \d")  # the grounding badge above the answer text


def _preload(data: Path, folder: Path) -> None:
    paths = []
    for name, text in PRELOADED.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(str(folder / name))
    done = subprocess.run([sys.executable, "-m", "rag", "ingest", *paths, "-q"], cwd=ROOT,
                          env=server_env(data), capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _listed(data: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "rag", "list", "--json"], cwd=ROOT,
                          env=server_env(data), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [d["name"] for d in json.loads(done.stdout)]


async def _idle(page, timeout_ms: int = ACTION_S * 1000) -> None:
    """Wait until the script run is over (Streamlit's running indicator is gone)."""
    await page.wait_for_timeout(300)
    await page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


async def _problems(page) -> list[str]:
    """Exceptions and error boxes on the tab."""
    found = await page.get_by_test_id("stException").all_inner_texts()
    found += await page.get_by_test_id("stAlertContentError").all_inner_texts()
    return found


class Tabs:
    """The burst: each tab gets ready, waits for ``go``, acts, and logs what it did."""

    def __init__(self, browser, url: str) -> None:
        self.browser, self.url = browser, url
        self.go = asyncio.Event()
        self.pages: dict[str, object] = {}  # what the tab does -> its page
        self.log: list[dict] = []
        self.ready = 0  # tabs parked on ``go``
        self.started = time.monotonic()

    async def open(self, path: str):
        context = await self.browser.new_context(viewport={"width": 1100, "height": 900})
        await context.route(lambda u: not u.startswith(self.url), lambda r: r.abort())
        page = await context.new_page()
        page.set_default_timeout(READY_S * 1000)
        await page.goto(f"{self.url}/{path}")
        await _idle(page, READY_S * 1000)
        return page

    async def act(self, kind: str, what: str, ready, action) -> dict:
        """``ready()`` (opens the tab, returns its page) within READY_S, then wait for
        ``go``, then ``action(page)`` within ACTION_S; returns the log entry (what
        ``action`` returned under "result")."""
        entry = {"kind": kind, "what": what}
        self.log.append(entry)
        page = self.pages[what] = await asyncio.wait_for(ready(), READY_S)
        self.ready += 1
        await self.go.wait()
        entry["start_s"] = round(time.monotonic() - self.started, 2)
        try:
            entry["result"] = await asyncio.wait_for(action(page), ACTION_S)
        except BaseException:  # what the tab showed when it failed or timed out
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"concurrency-{kind}-{len(self.log)}-{id(page) % 997}.png"
            await asyncio.shield(page.screenshot(path=str(shot), full_page=True))
            raise
        entry["end_s"] = round(time.monotonic() - self.started, 2)
        return entry

    async def ask(self, question: str) -> dict:
        from playwright.async_api import expect

        async def ready():
            page = await self.open("chat")
            box = page.get_by_test_id("stChatInput").locator("textarea")
            await expect(box).to_be_enabled(timeout=READY_S * 1000)
            await box.fill(question)
            return page

        async def action(page) -> dict:
            await page.get_by_test_id("stChatInput").locator("textarea").press("Enter")
            answer = page.get_by_test_id("stChatMessage").nth(1)
            sources = answer.get_by_text(re.compile(r"Fuentes:.*\[1\]"))
            await expect(sources).to_be_visible()
            await _idle(page)
            # the answer's text: the Markdown after the grounding badge (what the
            # documents say may come first when the answer is not trusted)
            texts = await answer.get_by_test_id("stMarkdownContainer").all_inner_texts()
            badge = next((i for i, t in enumerate(texts) if BADGE.search(t)), -1)
            text = texts[badge + 1] if badge + 1 < len(texts) else ""
            cited = (await sources.inner_text()).split(":", 1)[1].strip()
            return {"answer": text, "cited": CITATION.findall(cited)}

        return await self.act("ask", question, ready, action)

    async def upload(self, path: Path) -> dict:
        from playwright.async_api import expect

        async def ready():
            page = await self.open("documents")
            await page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
            await expect(page.get_by_role("button", name=re.compile(r"Añadir 1 archivo"))
                         ).to_be_enabled(timeout=READY_S * 1000)
            return page

        async def action(page) -> dict:
            await page.get_by_role("button", name=re.compile(r"Añadir 1 archivo")).click()
            await expect(page.get_by_text(f"{path.name} — añadido")).to_be_visible()
            await _idle(page)
            return {"added": path.name}

        return await self.act("upload", path.name, ready, action)

    async def delete(self, name: str) -> dict:
        """As a user deletes: open "Eliminar o re-indexar", pick ``name``, "Eliminar"."""
        from playwright.async_api import expect

        async def ready():
            page = await self.open("documents")
            await page.get_by_text("Eliminar o re-indexar").click()
            await page.get_by_test_id("stMultiSelect").click()
            await page.get_by_role("option", name=name, exact=True).click()
            await page.keyboard.press("Escape")
            await expect(page.get_by_role("button", name=re.compile(r"Eliminar$"))
                         ).to_be_enabled(timeout=READY_S * 1000)
            return page

        async def action(page) -> dict:
            await page.get_by_role("button", name=re.compile(r"Eliminar$")).click()
            await expect(page.get_by_text(f"Eliminado: {name}")).to_be_visible()
            await _idle(page)
            return {"deleted": name}

        return await self.act("delete", name, ready, action)


async def _burst(url: str, uploads: list[Path]) -> dict:
    """Run the 8 tabs; returns their log ("tabs"), the burst's seconds, each tab's problems,
    and the library table that a fresh tab shows afterwards."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=ACTION_S * 1000)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tabs = Tabs(browser, url)
            jobs = [*(tabs.ask(q) for q in QUESTIONS), *(tabs.upload(p) for p in uploads),
                    tabs.delete(DELETED)]
            tasks = [asyncio.ensure_future(job) for job in jobs]

            deadline = time.monotonic() + READY_S + 10  # tabs get ready in parallel
            while (tabs.ready < len(tasks) and not any(t.done() for t in tasks)
                   and time.monotonic() < deadline):
                await asyncio.sleep(0.2)
            tabs.started = time.monotonic()
            tabs.go.set()
            done, pending = await asyncio.wait(tasks, timeout=BURST_S)
            burst_s = round(time.monotonic() - tabs.started, 1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            errors = [repr(t.exception()) for t in done if t.exception()]
            assert not pending and not errors, (len(pending), errors, tabs.log)
            problems = {}
            for what, page in tabs.pages.items():
                await _idle(page)
                problems[what] = await _problems(page)

            page = await tabs.open("documents")  # a fresh session sees the new library
            column = page.get_by_test_id("stDataFrame").locator('td[aria-colindex="1"]')
            await expect(column).to_have_count(len(PRELOADED) - 1 + len(uploads))
            table = await column.all_text_contents()
            problems["fresh tab"] = await _problems(page)
            return {"burst_s": burst_s, "tabs": tabs.log, "problems": problems,
                    "table": table}
        finally:
            await browser.close()


def test_eight_sessions_ask_upload_and_delete_at_once(tmp_path: Path) -> None:
    require_chromium()
    data = tmp_path / "data"
    data.mkdir()
    folder = tmp_path / "files"
    folder.mkdir()
    _preload(data, folder)
    uploads = [write_document(folder, seed) for seed in UPLOAD_SEEDS]
    expected = sorted({*PRELOADED, *(p.name for p in uploads)} - {DELETED})
    existed = {*PRELOADED, *(p.name for p in uploads)}

    with streamlit_server(data, "streamlit-concurrency.log", max_tokens="48",
                          top_k="2") as (url, log):
        run = asyncio.run(_burst(url, uploads))
        assert health(url) == b"ok"  # still serving after the burst
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "concurrency.json").write_text(json.dumps(run, ensure_ascii=False, indent=2))

    assert not any(run["problems"].values()), run["problems"]
    assert sorted(run["table"]) == expected, run["table"]
    names = _listed(data)
    assert not [n for n, c in Counter(names).items() if c > 1], names  # each once
    assert sorted(names) == expected and DELETED not in names, names
    embedder = embedder_class("use-multilingual")
    chunks = check_store(library_root(data, "default"), embedder.name, embedder.dim)
    assert sorted(chunks) == expected and all(chunks.values()), chunks
    answers = [e["result"] for e in run["tabs"] if e["kind"] == "ask"]
    assert len(answers) == len(QUESTIONS)
    for answer in answers:
        assert answer["answer"].strip(), answer
        assert answer["cited"] and set(answer["cited"]) <= existed, answer
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
