"""Memory and time stay bounded for hostile inputs, past the parse sandbox (real engine:
the default embedder, the CLI as a person runs it).

- what is embedded is cut to the embedder's input limit (a 1 MB text or question);
- headings repeated into every chunk are capped (a 2.5M- or 8M-character DOCX heading);
- runs without spaces are cut, not split into characters, and repeated chunks are
  embedded once (a 10 MB file of one character took 569 s);
- indexing one file has a time budget (``index_timeout_s``);
- cleaning is linear: a 150 KB Markdown heading or line of spaces is read in well under a
  second (it held a parse worker for its whole 120 s timeout).

The CLI's peak memory for the whole hostile batch is measured (``VmHWM`` of its
process; the parse worker is bounded separately by ``parse_memory_mb``) and must stay
under ``INGEST_PEAK_BOUND_MB``.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from docx import Document

from rag.chunking import MAX_HEADING_CHARS
from rag.embedding import get_embedder
from rag.errors import QuestionTooLongError
from rag.service import RagService
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
INGEST_PEAK_BOUND_MB = 1024
EMBED_PEAK_BOUND_MB = 64
# The process's own peak (VmHWM): its ru_maxrss would include the pytest process's peak,
# which Linux carries into a child across fork/exec (1.3-1.5 GB late in the suite).
PEAK_SCRIPT = """
import json, sys
from pathlib import Path
from rag import cli
code = cli.main(sys.argv[1:])
status = Path("/proc/self/status").read_text()
peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"code": code, "peak_mb": round(peak)}), file=sys.stderr)
"""


def heading_docx(chars: int) -> bytes:
    doc = Document()
    doc.add_heading(("palabra " * (chars // 8)).strip(), level=1)
    for i in range(30):
        doc.add_paragraph(f"Párrafo {i}: la cooperativa cosechó {100 + i} sacos de café.")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_hostile_batch_stays_within_the_memory_bound(tmp_path):
    files = tmp_path / "hostiles"
    files.mkdir()
    (files / "titulo-2m.docx").write_bytes(heading_docx(2_500_000))  # ~40 KB
    (files / "titulo-8m.docx").write_bytes(heading_docx(8_000_000))  # ~48 KB
    (files / "una-letra.txt").write_bytes(b"a" * 10_000_000)
    (files / "zz-normal.txt").write_text("El cacao de Baracoa se cosecha en marzo.",
                                         encoding="utf-8")
    data = tmp_path / "data"
    env = {**os.environ, "RAG_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, "ingest", str(files), "-q"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, done.stdout + done.stderr
    for name in ("titulo-2m.docx", "titulo-8m.docx", "una-letra.txt", "zz-normal.txt"):
        assert f"added    {name}" in done.stdout, done.stdout
    print(f"CLI ingest peak: {result['peak_mb']} MB")
    assert result["peak_mb"] < INGEST_PEAK_BOUND_MB, result
    database = data / "libraries" / "default" / "library.sqlite3"
    with sqlite3.connect(database) as db:
        longest = db.execute("SELECT MAX(LENGTH(heading)) FROM chunks").fetchone()[0]
    assert longest <= MAX_HEADING_CHARS
    # The 10 MB file's text, stored once (with the chunks' overlaps); the headings add
    # nothing to speak of (uncapped, the 2.5M-character one alone made 21 MB).
    assert database.stat().st_size < 20 * 2**20


def test_embedding_a_huge_text_is_bounded():
    embedder = get_embedder("use-multilingual")
    short = embedder.embed_query("cacao " * 400)  # (loads the weights, untraced)
    tracemalloc.start()
    try:
        vector = embedder.embed_query("cacao " * 200_000)  # 1.2 MB
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert vector.shape == (embedder.dim,)
    assert peak < EMBED_PEAK_BOUND_MB, peak
    assert float(vector @ short) > 0.99  # the same text, cut where the model stops reading


@pytest.fixture
def service(tmp_path):
    return RagService(load_settings(tmp_path / "data", parse_timeout_s=20.0))


def test_questions_over_the_limit_are_refused_before_any_work(service):
    with pytest.raises(QuestionTooLongError) as caught:
        service.ask("q" * 1_000_000)
    assert caught.value.params == {"length": 1_000_000, "limit": 2000}
    with pytest.raises(QuestionTooLongError):
        service.search("q" * 2001)


def test_indexing_has_a_time_budget(tmp_path):
    service = RagService(load_settings(tmp_path / "data", index_timeout_s=0.0))
    text = " ".join(f"Frase número {i} sobre el cacao de la finca {i % 97}." for i in range(200))
    report = service.ingest_bytes("largo.txt", text.encode())
    assert (report.status, report.error_code) == ("failed", "timeout")
    assert report.error == "largo.txt took longer than 0 s to index and was skipped."
    assert service.stats() == (0, 0)  # nothing half-stored
    patient = RagService(load_settings(tmp_path / "data"))
    assert patient.ingest_bytes("corto.txt", text[:400].encode()).status == "added"


@pytest.mark.parametrize(("name", "data"), [
    ("titulo.md", "# Título".encode() + b" " * 150_000 + b"fin\n\nEl cacao de Baracoa."),
    ("linea.md", b"Cacao" + b" " * 150_000 + b"de Baracoa.\n" + b"#" + b" #" * 75_000),
    ("linea.txt", b"Cacao" + b" \t" * 75_000 + b"de Baracoa."),
])
def test_long_runs_of_spaces_parse_quickly(service, name, data):
    report = service.ingest_bytes(name, data)
    assert report.status == "added", report
    assert report.seconds < 15
    assert service.search("cacao Baracoa", k=1)[0].file_name == name
