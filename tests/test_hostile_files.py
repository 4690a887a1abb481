"""Hostile uploads, all built in memory (tests/hostile_builders.py; no binary fixtures): each
one gets a specific, human message within a time cap, parsed in the sandboxed worker
(rag/sandbox.py); the other files of the same upload are stored and the existing library is
left untouched.

What every input got, and how long it took, is written to
``test-artifacts/hostile_files.json``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from rag import sandbox
from rag.library import library_root
from rag.service import RagService
from rag.settings import load_settings
from tests.corpus import write_corpus
from tests.hostile_builders import (
    docx_billion_laughs,
    docx_bytes,
    docx_zip_bomb,
    pdf_bomb,
    pdf_pages_cycle,
    pdf_self_references,
)
from tests.pdf_factory import make_pdf

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / "test-artifacts" / "hostile_files.json"
TIME_CAP_S = 20.0  # every hostile file is answered within this (the parse timeout, too)
MEMORY_MB = 1024  # the default parse memory limit
PAGES = ["Primera página del informe de prueba.", "Segunda página con más texto."]
_results: dict[str, dict[str, object]] = {}


# --------------------------------------------------------------------------------- the cases
# (label, upload name, bytes, expected code, expected message: exact, or a regex "re:...").
# code "added": stored, and the message is a warning the report must carry ("" for none).
LATIN1 = "El niño comió piñas en Córdoba; la cigüeña voló sobre el río Miño.\n"
UTF16 = "Informe en UTF-16: la señora Núñez revisó el año fiscal de la cooperativa.\n"
CASES = [
    ("truncated PDF", "cut.pdf", lambda: make_pdf(PAGES * 3)[:400], "corrupt",
     "cut.pdf is damaged or incomplete and could not be read."),
    ("encrypted PDF, password", "secret.pdf",
     lambda: make_pdf(PAGES, encrypt_password="s3cret"), "encrypted",
     "secret.pdf is password-protected: remove the password and upload it again."),
    ("encrypted PDF, empty password", "open-protected.pdf",
     lambda: make_pdf(["Documento protegido sin contraseña: el inventario de tornillos."],
                      encrypt_password=""), "added", ""),
    ("PDF without a text layer, nothing to OCR", "scan.pdf", lambda: make_pdf([None, None]),
     "no_text_ocr", "scan.pdf has no text layer, and OCR found no text on its pages (blank or "
     "unreadable scans?)."),
    ("PDF decompression bomb (1 MB -> 1 GB FlateDecode)", "bomb.pdf", pdf_bomb, "too_large",
     "bomb.pdf needs more than 1024 MB of memory to read and was skipped."),
    ("PDF page-tree cycle", "loop.pdf", pdf_pages_cycle, "corrupt",
     "loop.pdf is damaged or incomplete and could not be read."),
    ("PDF self-references (kid, /Length, XObject)", "self-ref.pdf", pdf_self_references,
     "added", "page 2 could not be read"),
    ("0-byte PDF", "empty.pdf", lambda: b"", "empty", "empty.pdf is empty."),
    ("0-byte text", "empty.txt", lambda: b"", "empty", "empty.txt is empty."),
    ("DOCX zip bomb (~150 KB -> 100M characters)", "bomb.docx", docx_zip_bomb, "too_large",
     r"re:bomb\.docx unpacks to \d+ MB of XML from a \d+ KB file \(packed [\d,]+ to 1, which "
     r"Word never does\); it was refused as a likely zip bomb\."),
    ("DOCX billion laughs", "lol.docx", docx_billion_laughs, "corrupt",
     "lol.docx contains XML declarations (DOCTYPE/ENTITY) that Word never writes; it was "
     "refused as unsafe."),
    ("binary data named .txt", "photo.txt",
     lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64, "unsupported",
     "photo.txt looks like binary data, not text."),
    ("50 MB single-line text", "oneline.txt", lambda: b"palabra " * (50 * 2**20 // 8),
     "too_large", "oneline.txt has more than 20,000,000 characters of text, the limit."),
    ("a .pdf that is a DOCX", "report.pdf", lambda: docx_bytes("Informe."), "added",
     "named .pdf but its content is a Word document (.docx): read as such"),
    ("a .docx that is a PDF", "report.docx", lambda: make_pdf(PAGES), "added",
     "named .docx but its content is a PDF: read as such"),
    ("Latin-1 text", "latin1.txt", lambda: LATIN1.encode("latin-1"), "added",
     "not UTF-8: decoded as Windows-1252"),
    ("Latin-1 text with a C1 byte", "latin1-c1.txt",
     lambda: LATIN1.encode("latin-1") + b"c\xf3digo \x81 fin\n", "added",
     "not UTF-8: decoded as Latin-1 (ISO-8859-1)"),
    ("UTF-16 text", "utf16.txt", lambda: UTF16.encode("utf-16"), "added",
     "not UTF-8: decoded as UTF-16"),
]
NAMES = [  # (label, upload name, stored name or None if refused, message if refused)
    ("name with ../", "../../etc/passwd.txt", "passwd.txt", None),
    ("absolute path", "/var/tmp/abs/evil.txt", "evil.txt", None),
    ("Windows path", "C:\\Users\\ana\\informe.txt", "informe.txt", None),
    ("NUL in the name", "nul\x00name.txt", "nulname.txt", None),
    ("control characters", "ctrl\x1b[31m\x07red.txt", "ctrl[31mred.txt", None),
    ("line break in the name", "two\r\nlines.txt", "two lines.txt", None),
    ("very long name", "n" * 300 + ".txt", "n" * 116 + ".txt", None),
    ("only dots", "..", None, "'..' is not a usable file name."),
    ("only a slash", "/", None, "'/' is not a usable file name."),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    settings = load_settings(tmp_path_factory.mktemp("data"), parse_timeout_s=TIME_CAP_S,
                             parse_memory_mb=MEMORY_MB)
    svc = RagService(settings)
    corpus = write_corpus(tmp_path_factory.mktemp("corpus"), articles=1)
    assert all(r.status == "added" for r in svc.ingest_paths([corpus["pdf"].parent]))
    yield svc
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(_results, ensure_ascii=False, indent=2), encoding="utf-8")


def _snapshot(svc: RagService):
    top = svc.search("¿Cuántos sacos de café se cosecharon en Pinar del Río?", k=1)[0]
    return svc.stats(), {d.name for d in svc.list_documents()}, (top.file_name, top.page)


def _ingest(svc: RagService, label: str, name: str, data: bytes):
    started = time.perf_counter()
    report = svc.ingest_bytes(name, data)
    seconds = time.perf_counter() - started
    _results[label] = {"upload_name": name, "bytes": len(data), "status": report.status,
                       "code": report.error_code, "message": report.error or "; ".join(
                           report.warnings), "stored_as": report.file_name,
                       "seconds": round(seconds, 3)}
    return report, seconds


@pytest.mark.parametrize(("label", "name", "build", "code", "message"), CASES,
                         ids=[c[0] for c in CASES])
def test_hostile_file_gets_a_specific_message(service, label, name, build, code, message):
    data = build()
    before = _snapshot(service)
    report, seconds = _ingest(service, label, name, data)
    assert seconds < TIME_CAP_S, f"{label}: {seconds:.1f} s"
    if code == "added":
        assert report.status == "added", report
        assert report.warnings == ([message] if message else []), report.warnings
        after = _snapshot(service)
        assert after[0][0] == before[0][0] + 1 and after[2] == before[2]
        service.delete_document(report.file_name)
    else:
        assert (report.status, report.error_code) == ("failed", code), report
        if message.startswith("re:"):
            assert re.fullmatch(message[3:], report.error), report.error
        else:
            assert report.error == message
    assert _snapshot(service) == before  # the library is untouched


def test_slow_file_times_out_and_the_worker_is_replaced(service):
    """With room to inflate (4 GB), the bomb is slow instead: the timeout stops it."""
    slow = RagService(service.settings.with_changes(parse_timeout_s=1.0, parse_memory_mb=4096),
                      embedder=service.embedder)
    before = _snapshot(service)
    report, seconds = _ingest(slow, "PDF decompression bomb, 1 s timeout, 4 GB limit",
                              "bomb.pdf", pdf_bomb())
    assert (report.error_code, report.error) == (
        "timeout", "bomb.pdf took longer than 1 s to read and was skipped.")
    assert seconds < 5
    assert slow.ingest_bytes("after.txt", b"El archivo siguiente se lee bien.").ok
    slow.delete_document("after.txt")
    assert _snapshot(service) == before


@pytest.mark.parametrize(("label", "name", "stored", "message"), NAMES,
                         ids=[n[0] for n in NAMES])
def test_hostile_file_names(service, label, name, stored, message):
    files = library_root(service.settings.data_dir, service.settings.library) / "files"
    before_files = set(files.iterdir())
    text = f"Documento con un nombre peligroso: {label}. Código {abs(hash(label)) % 10**6}."
    report, _ = _ingest(service, label, name, text.encode())
    if stored is None:
        assert (report.status, report.error_code, report.error) == (
            "failed", "invalid_name", message)
        return
    assert (report.status, report.file_name) == ("added", stored), report
    assert stored in {d.name for d in service.list_documents()}
    new_files = set(files.iterdir()) - before_files  # only the original, named by its hash
    assert len(new_files) == 1
    assert re.fullmatch(r"[0-9a-f]{64}\.txt", new_files.pop().name)
    service.delete_document(stored)


def test_one_upload_with_hostile_and_good_files(service):
    """The app ingests an upload file by file: the hostile ones fail, the rest are stored."""
    upload = [
        ("bueno-1.txt", b"Primer archivo bueno: la bomba BH-220 pesa 40 kg."),
        ("bomb.pdf", pdf_bomb()),
        ("bueno-2.md", b"# Segundo\n\nEl segundo archivo bueno habla del faro de Gibara."),
        ("loop.pdf", pdf_pages_cycle()),
        ("bomb.docx", docx_zip_bomb()),
        ("bueno-3.pdf", make_pdf(["Tercer archivo bueno: el puente de Bacunayagua."])),
        ("cut.pdf", make_pdf(PAGES)[:300]),
    ]
    before = _snapshot(service)
    started = sandbox.stats()["started"]
    reports = [service.ingest_bytes(name, data) for name, data in upload]
    assert [r.status for r in reports] == ["added", "failed", "added", "failed", "failed",
                                           "added", "failed"]
    docs, chunks = service.stats()
    assert docs == before[0][0] + 3 and chunks == before[0][1] + sum(r.chunks for r in reports)
    assert service.search("faro de Gibara", k=1)[0].file_name == "bueno-2.md"
    assert sandbox.stats()["started"] - started <= 2  # only the killed worker was replaced
    for name in ("bueno-1.txt", "bueno-2.md", "bueno-3.pdf"):
        service.delete_document(name)
    assert _snapshot(service) == before



def test_a_dead_workers_peak_memory_is_its_own_not_the_apps():
    """Linux carries a parent's peak resident set into its child's ``ru_maxrss``: in an app
    holding the models (> half the worker's limit) every crashed reader looked like a
    memory death ("needs more than 1024 MB") instead of a damaged file."""
    ballast = b"\x01" * (700 * 2**20)  # this process now peaks above 700 MB
    worker = sandbox._Worker(1024)
    _status, peak_mb = worker.kill()
    assert len(ballast) and peak_mb < 300, peak_mb


def test_a_workers_peak_leaves_out_what_the_app_grew_while_starting_it(monkeypatch):
    """The app's other threads may allocate while a worker starts (its exec inherits the
    grown peak): that memory is not the worker's either."""
    import resource
    import subprocess

    spawn = subprocess.Popen
    held = []

    def growing(*args, **kwargs):  # a new peak for the app, just before the exec
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss_kb = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf(
            "SC_PAGE_SIZE") // 1024
        held.append(b"\x03" * ((peak_kb - rss_kb + 300 * 1024) * 1024))
        return spawn(*args, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "Popen", growing)
    _status, peak_mb = sandbox._Worker(1024).kill()
    assert held and peak_mb < 300, peak_mb


def test_worker_is_reused_and_cheap_per_file():
    """100 small files pay for one worker start; the per-file cost of the process boundary
    is measured against parsing in this process (written to sandbox_overhead.json)."""
    from rag.loaders import load_bytes

    files = [(f"f{i}.txt", f"Archivo pequeño número {i}: texto de prueba.".encode())
             for i in range(100)] + [(f"p{i}.pdf", make_pdf([f"Página {i}."])) for i in range(20)]
    sandbox.shutdown()
    started = sandbox.stats()["started"]
    t0 = time.perf_counter()
    sandbox.load_bytes(b"arranque", "warm.txt", memory_mb=MEMORY_MB)
    cold = time.perf_counter() - t0
    load_bytes(files[-1][1], "warm.pdf")  # import the PDF libraries here too
    timings = {}
    for label, parse in (("in_process", load_bytes),
                         ("sandbox", lambda d, n: sandbox.load_bytes(d, n, memory_mb=MEMORY_MB))):
        t0 = time.perf_counter()
        docs = [parse(data, name) for name, data in files]
        timings[label] = (time.perf_counter() - t0) / len(files)
        assert [d.file_name for d in docs] == [n for n, _ in files]
    overhead_ms = (timings["sandbox"] - timings["in_process"]) * 1000
    assert sandbox.stats()["started"] - started == 1  # one process start for 121 files
    assert overhead_ms < 25, overhead_ms
    ARTIFACT.parent.mkdir(exist_ok=True)
    (ARTIFACT.parent / "sandbox_overhead.json").write_text(json.dumps({
        "worker_cold_start_s": round(cold, 3), "files": len(files),
        "per_file_in_process_ms": round(timings["in_process"] * 1000, 3),
        "per_file_sandbox_ms": round(timings["sandbox"] * 1000, 3),
        "per_file_overhead_ms": round(overhead_ms, 3)}, indent=2), encoding="utf-8")
