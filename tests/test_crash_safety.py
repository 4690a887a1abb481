"""kill -9 at random points: while `python -m rag ingest` runs, while `reindex` runs, and
while a process adds and deletes documents in a loop. Afterwards the library opens and
holds the last complete state: every document fully present (all its chunks, vectors and
its original) or absent, SQLite's integrity check passes and the FAISS index holds exactly
the chunks. Running the job again finishes it, with no duplicates.

The kill delays come from a seeded RNG, so a failure can be replayed.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from rag.embedding import embedder_class
from rag.library import library_root
from rag.schema import Chunk, LoadedDocument
from rag.service import RagService
from rag.settings import load_settings
from tests.store_checks import ROOT, check_store, cli, cli_env, run_cli, write_document

SEED = 20240611
INITIAL, PER_ROUND, ROUNDS = 6, 2, 7
EMBEDDER = embedder_class("use-multilingual")


def _run_and_kill(args: list[str], delay: float) -> tuple[bool, float]:
    """Start the command; SIGKILL it after ``delay`` seconds. (killed?, seconds it ran)."""
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return False, time.monotonic() - started
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True, time.monotonic() - started


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """All the documents of every round, and their chunk counts from a clean ingest."""
    staging = tmp_path_factory.mktemp("staging")
    paths = [write_document(staging, seed) for seed in range(INITIAL + PER_ROUND * ROUNDS)]
    clean = RagService(load_settings(tmp_path_factory.mktemp("clean")))
    reports = clean.ingest_paths([staging])
    assert all(r.status == "added" for r in reports), reports
    return paths, {d.name: d.chunks for d in clean.list_documents()}


@pytest.fixture(scope="module")
def crashed_library(tmp_path_factory, files):
    """Ingest with kills in between: each round adds files to the folder and runs
    `python -m rag ingest` killed after 0.2-6 s; then one run to the end."""
    paths, expected = files
    folder, data = tmp_path_factory.mktemp("upload"), tmp_path_factory.mktemp("data")
    root = library_root(data, "default")
    rng = random.Random(SEED)
    log = []
    for round_ in range(ROUNDS):
        upto = INITIAL + PER_ROUND * (round_ + 1)
        for path in paths[:upto]:
            if not (folder / path.name).exists():
                shutil.copy(path, folder / path.name)
        delay = rng.uniform(0.2, 6.0)
        killed, _ = _run_and_kill(cli("ingest", str(folder), "--data", str(data)), delay)
        state = check_store(root, EMBEDDER.name, EMBEDDER.dim) if root.exists() else {}
        for name, chunks in state.items():  # each document whole, or not there at all
            assert chunks == expected[name], (name, chunks, expected[name])
        log.append((round(delay, 2), killed, len(state)))
    print("\nkill -9 during ingest (delay s, killed, documents after):", log, file=sys.stderr)
    assert any(killed for _, killed, _ in log)  # (how many depends on the machine's speed)
    done = run_cli("ingest", str(folder), "--data", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    return data, root, expected


def test_kill_during_ingest_then_rerun_finishes_without_duplicates(crashed_library):
    _, root, expected = crashed_library
    state = check_store(root, EMBEDDER.name, EMBEDDER.dim)
    assert state == expected  # same documents and chunk counts as a clean ingest


def _kill_reindex_after(data, documents: int) -> list[str]:
    """Run `python -m rag reindex`; SIGKILL it as it starts its ``documents + 1``-th
    document (it announces each one on stderr). Returns the documents it announced."""
    args = [sys.executable, "-m", "rag", "reindex", "--data", str(data)]
    proc = subprocess.Popen(args, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    announced: list[str] = []
    try:
        for line in proc.stderr:
            if line.startswith("re-indexing "):
                announced.append(line.removeprefix("re-indexing ").strip())
                if len(announced) > documents:
                    proc.send_signal(signal.SIGKILL)
                    break
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, announced)  # killed mid-run
    return announced


def test_kill_during_reindex_loses_nothing(crashed_library):
    data, root, expected = crashed_library
    rng = random.Random(SEED + 1)
    for _ in range(3):
        documents = rng.randint(1, len(expected) - 2)
        announced = _kill_reindex_after(data, documents)
        assert len(announced) == documents + 1 < len(expected)
        assert check_store(root, EMBEDDER.name, EMBEDDER.dim) == expected
    done = run_cli("reindex", "--data", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    assert check_store(root, EMBEDDER.name, EMBEDDER.dim) == expected


# A process that adds, replaces and deletes documents as fast as it can (random vectors, no
# model): a kill lands inside a transaction or an index save almost every time.
CHURN = r"""
import random, sys
from pathlib import Path
from rag.library import Library
from rag.schema import Chunk, LoadedDocument, Section
from tests.store_checks import random_vectors

root, seed = Path(sys.argv[1]), int(sys.argv[2])
library = Library(root, "churn", 8)
rng = random.Random(seed)
print("ready", flush=True)
step = 0
while True:
    step += 1
    names = [d.name for d in library.documents()]
    if names and rng.random() < 0.4:
        library.delete_document(rng.choice(names))
        continue
    n, slot = rng.randint(1, 6), rng.randrange(10)
    key = f"{seed}-{step}"
    doc = LoadedDocument(file_name=f"slot-{slot}.txt", kind="txt", sections=[Section(key)],
                         content_hash=f"{key:0>64}"[-64:], pages=n)
    chunks = [Chunk(text=f"{key} part {i}", file_name=doc.file_name, page=None, heading="",
                    content_hash=f"{key}-{i}", ordinal=i) for i in range(n)]
    library.add_document(doc, chunks, random_vectors(n, 8, step), key.encode())
"""


def test_kill_during_add_replace_and_delete(tmp_path):
    root = tmp_path / "churn"
    rng = random.Random(SEED + 2)
    for round_ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", CHURN, str(root), str(round_)], cwd=ROOT,
                                env=cli_env(), stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        state = check_store(root, "churn", 8)
        pages = _pages(root)
        assert all(state[name] == pages[name] for name in state), (state, pages)


def _pages(root) -> dict[str, int]:
    """Each churn document records its chunk count as its page count."""
    import sqlite3

    db = sqlite3.connect(root / "library.sqlite3")
    try:
        return dict(db.execute("SELECT name, pages FROM documents"))
    finally:
        db.close()


def test_library_still_works_after_the_kills(tmp_path):
    """The store a killed process left behind takes new writes (no stale lock, no journal
    left in the way)."""
    from rag.library import Library
    from tests.store_checks import random_vectors

    root = tmp_path / "after"
    proc = subprocess.Popen([sys.executable, "-c", CHURN, str(root), "99"], cwd=ROOT,
                            env=cli_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    library = Library(root, "churn", 8)
    doc = LoadedDocument(file_name="nuevo.txt", kind="txt", sections=[], content_hash="f" * 64,
                         pages=1)
    chunk = Chunk(text="nuevo", file_name="nuevo.txt", page=None, heading="",
                  content_hash="nuevo", ordinal=0)
    assert library.add_document(doc, [chunk], random_vectors(1, 8, 0), b"x")[0] == "added"
    library.delete_document("nuevo.txt")
    library.close()
    check_store(root, "churn", 8)
