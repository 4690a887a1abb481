"""Many users at once, engine side: 8 threads share one RagService (real multilingual
embedder, a fake LLM, plus one real ask), some asking and searching while others upload,
replace and delete; and two CLI processes ingest into the same library at once.

What "every answer cites documents that exist" means here, precisely: a passage returned
by a call that ran from t0 to t1 names a document that was in the library at some instant
of [t0, t1] (its upload call began before t1, and no delete of it returned before t0), and
the passage's text is a piece of that document as it was uploaded (one of its versions).
"""

from __future__ import annotations

import random
import re
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from rag.embedding import embedder_class
from rag.library import library_root
from rag.llm import LLM, Hardware, Message
from rag.loaders import load_bytes
from rag.service import RagService
from rag.settings import load_settings
from tests.store_checks import ROOT, check_store, cli, cli_env, document_text, write_document

EMBEDDER = embedder_class("use-multilingual")
INF = float("inf")
DELETED = ["c-101.txt", "c-110.txt", "c-113.txt", "c-111.txt"]  # seed, new, new, new
REPLACED = {100: 1110, 103: 1113}  # document seed -> seed of its replacement text


class QuotingLLM(LLM):
    """Answers instantly by quoting passage [1]."""

    name, n_ctx = "quoting", 2048
    hardware = Hardware(gpu=False, layers_offloaded=0, layers_total=1, threads=1)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream_chat(self, messages: list[Message], max_tokens: int, temperature: float,
                    stop: list[str] | None = None) -> Iterator[str]:
        match = re.search(r'<document id="1"[^>]*>\n(.{0,80})', messages[-1]["content"])
        yield from ["Según ", "[1]: ", match.group(1) if match else "nada"]


def _squash(text: str) -> str:
    return " ".join(text.split())


class Ledger:
    """When each document was uploaded and deleted, and every version of its text."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.added: dict[str, list[float]] = {}  # name -> times its upload calls began
        self.deleted: dict[str, list[float]] = {}  # name -> times its delete calls returned
        self.texts: dict[str, set[str]] = {}

    def upload(self, service: RagService, name: str, text: str) -> None:
        with self.lock:
            self.added.setdefault(name, []).append(time.monotonic())
            self.texts.setdefault(name, set()).add(_squash(text))
        report = service.ingest_bytes(name, text.encode("utf-8"))
        assert report.status in ("added", "replaced"), report

    def delete(self, service: RagService, name: str) -> None:
        service.delete_document(name)
        with self.lock:
            self.deleted.setdefault(name, []).append(time.monotonic())

    def existed_during(self, name: str, t0: float, t1: float) -> bool:
        """Some upload of ``name`` began before t1 and no delete of it returned between
        that upload's start and t0."""
        with self.lock:
            deleted = self.deleted.get(name, [])
            return any(a <= t1 and not any(a < d < t0 for d in deleted)
                       for a in self.added.get(name, []))

    def text_belongs(self, name: str, passage: str) -> bool:
        with self.lock:
            # A passage given to the model may be focused: sentences of one chunk joined
            # by "…" (rag/passages.py); each of its pieces must come from the document.
            pieces = [_squash(p) for p in passage.split("…") if p.strip()]
            return bool(pieces) and any(all(p in text for p in pieces)
                                        for text in self.texts.get(name, ()))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    settings = load_settings(tmp_path_factory.mktemp("data"), max_tokens=24)
    service = RagService(settings, llm=QuotingLLM())
    ledger = Ledger()
    for seed in range(100, 106):
        ledger.added[f"c-{seed}.txt"] = [-INF]
        ledger.texts[f"c-{seed}.txt"] = {_squash(document_text(seed))}
        assert service.ingest_bytes(f"c-{seed}.txt", document_text(seed).encode()).ok
    return service, ledger


def test_eight_threads_ask_search_upload_and_delete(shared):
    service, ledger = shared
    real = RagService(service.settings)  # the real SmolLM2, for one ask; same library
    calls: list[tuple[float, float, list]] = []
    errors: list[BaseException] = []
    real_answer: list = []
    start = threading.Barrier(8)

    def asker(seed: int) -> None:
        rng = random.Random(seed)
        for i in range(5):
            marker = rng.randrange(100, 116)
            t0 = time.monotonic()
            if seed == 0 and i == 2:
                answer = real.ask(f"¿Qué dice el documento MARCA-{marker}?", k=2).result()
                real_answer.append(answer)
            else:
                answer = service.ask(f"¿Qué dice el documento MARCA-{marker}?", k=3).result()
            calls.append((t0, time.monotonic(), answer.sources))

    def searcher(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(8):
            t0 = time.monotonic()
            sources = service.search(f"{rng.choice(['café', 'faro', 'energía solar'])} "
                                     f"MARCA-{rng.randrange(100, 116)}", k=4)
            calls.append((t0, time.monotonic(), sources))

    def uploader(seeds: range) -> None:
        for seed in seeds:
            ledger.upload(service, f"c-{seed}.txt", document_text(seed))
        # replace a seed document with new content (same name)
        ledger.upload(service, f"c-{seeds[0] - 10}.txt", document_text(seeds[0] + 1000))

    def deleter() -> None:
        deleted = 0
        for name in DELETED:
            for _ in range(200):  # wait until its upload is stored
                if service.library.has_document(name):
                    break
                time.sleep(0.05)
            ledger.delete(service, name)
            deleted += 1
        assert deleted == 4
        for i in range(6):  # churn: the searchers keep meeting chunks that just went away
            ledger.upload(service, "churn.txt", document_text(2000 + i))
            ledger.delete(service, "churn.txt")

    def run(target, *args) -> None:
        try:
            start.wait()
            target(*args)
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=args) for args in [
        (asker, 0), (asker, 1), (asker, 2), (searcher, 3), (searcher, 4),
        (uploader, range(110, 113)), (uploader, range(113, 116)), (deleter,)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors

    for t0, t1, sources in calls:
        for source in sources:
            assert ledger.existed_during(source.file_name, t0, t1), (source.file_name, t0, t1)
            assert ledger.text_belongs(source.file_name, source.text), source
    assert real_answer and real_answer[0].sources and real_answer[0].text

    expected = {f"c-{s}.txt" for s in [*range(100, 106), *range(110, 116)]} - set(DELETED)
    documents = service.list_documents()
    assert sorted(d.name for d in documents) == sorted(expected)  # none lost, none doubled
    chunker = service.chunker()
    for doc in documents:
        seed = int(doc.name[2:5])
        text = document_text(REPLACED.get(seed, seed))
        assert doc.chunks == len(chunker.split(load_bytes(text.encode(), doc.name))), doc
    root = library_root(service.settings.data_dir, service.settings.library)
    state = check_store(root, EMBEDDER.name, EMBEDDER.dim)
    assert service.stats() == (len(state), sum(state.values()))


def test_two_cli_processes_ingest_into_one_library(tmp_path):
    first, second, data = tmp_path / "a", tmp_path / "b", tmp_path / "data"
    first.mkdir()
    second.mkdir()
    for seed in range(200, 206):
        write_document(first, seed)
    for seed in range(204, 210):  # two files in both folders: same name, same content
        write_document(second, seed)
    procs = [subprocess.Popen(cli("ingest", str(folder), "--data", str(data)), cwd=ROOT,
                              env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for folder in (first, second)]
    outputs = [proc.communicate(timeout=180)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    root = library_root(data, "default")
    state = check_store(root, EMBEDDER.name, EMBEDDER.dim)
    assert sorted(state) == sorted({p.name for p in [*first.iterdir(), *second.iterdir()]})
    assert len(state) == 10 and all(chunks > 0 for chunks in state.values())


def test_chunk_deleted_between_search_steps_is_skipped(shared):
    """The interleaving the threads above hit at random, forced: another user deletes the
    best document after the dense search found its chunks and before their vectors are read
    (faiss raised "key not found" there, failing the search)."""
    service, ledger = shared
    ledger.upload(service, "c-150.txt", document_text(150))
    library = service.library
    original = library.keyword_search

    def keyword_search_then_delete(*args, **kwargs):
        found = original(*args, **kwargs)
        if library.has_document("c-150.txt"):
            ledger.delete(service, "c-150.txt")
        return found

    library.keyword_search = keyword_search_then_delete
    try:
        sources = service.search("MARCA-150", k=4)
    finally:
        del library.keyword_search
    assert sources and "c-150.txt" not in {s.file_name for s in sources}
