"""Distinct files never silently overwrite each other, and deleting or replacing a document
leaves no byte of its old text under the data directory. Real engine: the default embedder,
FAISS, SQLite, the parse sandbox."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest

from rag.service import RagService
from rag.settings import load_settings


@pytest.fixture
def service(tmp_path):
    return RagService(load_settings(tmp_path / "data"))


def _names(service: RagService) -> set[str]:
    return {d.name for d in service.list_documents()}


def test_same_base_name_in_two_folders_keeps_both(service, tmp_path):
    for folder, code in (("norte", "NRT-1001"), ("sur", "SUR-2002")):
        (tmp_path / "docs" / folder).mkdir(parents=True)
        (tmp_path / "docs" / folder / "informe.txt").write_text(
            f"Informe de la sede {folder}: el código de inventario es {code}.", encoding="utf-8")
    reports = service.ingest_paths([tmp_path / "docs"])
    assert [(r.status, r.file_name) for r in reports] == [("added", "informe.txt"),
                                                          ("added", "informe (2).txt")]
    assert reports[1].warnings == ["another file in this batch is also named 'informe.txt': "
                                   "this one is stored as 'informe (2).txt'"]
    assert service.search("SUR-2002", k=1)[0].file_name == "informe (2).txt"
    assert service.search("NRT-1001", k=1)[0].file_name == "informe.txt"
    # The same ingest again: both recognized, nothing replaced or duplicated.
    again = service.ingest_paths([tmp_path / "docs"])
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert _names(service) == {"informe.txt", "informe (2).txt"}


@pytest.mark.parametrize("lookalike", [unicodedata.normalize("NFD", "café.txt"),
                                       "caf\u200bé.txt", "café\u202e.txt"])
def test_a_name_equal_only_after_cleaning_does_not_replace(service, lookalike):
    assert service.ingest_bytes("café.txt", "Café de Trinidad: 1.200 sacos.".encode()).ok
    report = service.ingest_bytes(lookalike, "Otro café, de Baracoa: 40 sacos.".encode())
    assert (report.status, report.file_name) == ("added", "café (2).txt")
    assert "a different document named 'café.txt' is already in the library" in report.warnings[0]
    assert _names(service) == {"café.txt", "café (2).txt"}


def test_same_name_twice_in_one_upload_keeps_both(service):
    batch: set[str] = set()
    first = service.ingest_bytes("acta.md", b"# Acta\n\nSe aprobaron 8 tractores.", batch=batch)
    second = service.ingest_bytes("acta.md", b"# Acta\n\nSe aprobaron 3 camiones.", batch=batch)
    assert (first.file_name, second.file_name) == ("acta.md", "acta (2).md")
    assert second.status == "added"


def test_exact_same_name_is_the_update_path(service):
    assert service.ingest_bytes("plan.txt", b"Plan 2024: 10 pozos.").status == "added"
    report = service.ingest_bytes("plan.txt", b"Plan 2025: 12 pozos.")
    assert (report.status, report.file_name) == ("replaced", "plan.txt")


SECRET = "ZQXJ-SECRETO-7731"


def _files_holding(root: Path, needle: str) -> list[str]:
    patterns = [needle.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
            and any(pattern in p.read_bytes() for pattern in patterns)]


def _secret_document(words: int = 1500) -> bytes:
    body = " ".join(f"La clave del almacén {i} es {SECRET}." for i in range(words // 8))
    return body.encode()


def test_delete_leaves_no_byte_of_the_text(service):
    data_dir = Path(service.settings.data_dir)
    assert service.ingest_bytes("otro.txt", b"Un documento que se queda: cacao.").ok
    assert service.ingest_bytes("secreto.txt", _secret_document()).ok
    assert _files_holding(data_dir, SECRET)  # the check can see it while stored
    service.delete_document("secreto.txt")
    assert _files_holding(data_dir, SECRET) == []
    assert _files_holding(data_dir, "zqxj") == []  # nor its words in the full-text index
    assert _names(service) == {"otro.txt"}
    assert service.search("cacao", k=1)[0].file_name == "otro.txt"
    db = data_dir / "libraries" / "default" / "library.sqlite3"
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_replace_leaves_no_byte_of_the_old_text(service):
    data_dir = Path(service.settings.data_dir)
    assert service.ingest_bytes("claves.txt", _secret_document()).status == "added"
    report = service.ingest_bytes("claves.txt", b"Las claves se cambiaron en 2025.")
    assert report.status == "replaced"
    assert _files_holding(data_dir, SECRET) == []
    assert _files_holding(data_dir, "zqxj") == []
    assert service.search("claves cambiaron", k=1)[0].file_name == "claves.txt"
    # The new version's original is kept, so the library can still be re-indexed.
    assert service.library.original_path("claves.txt").read_bytes().startswith(b"Las claves")


def test_delete_and_replace_take_the_passages_out_of_saved_chats(tmp_path):
    """A saved chat quotes the passages its answer cited: deleting (or replacing) the
    document takes them out too; the citation stays, marked removed, and other documents'
    passages are untouched. Real model: the answer comes from the default GGUF."""
    from rag import chats

    service = RagService(load_settings(tmp_path / "data", max_tokens=16))
    data_dir = Path(service.settings.data_dir)
    assert service.ingest_bytes("secreto.txt", _secret_document(200)).ok
    assert service.ingest_bytes("otro.txt", b"La clave del almacen de cacao es CACAO-12.").ok
    store = chats.ChatStore(data_dir, "default")
    chat = store.new_chat()
    answer = service.ask("¿Cuál es la clave del almacén?", k=4).result()
    assert {s.file_name for s in answer.sources} == {"secreto.txt", "otro.txt"}
    chat["turns"] += [{"role": "user", "content": "¿Cuál es la clave del almacén?"},
                      chats.answer_turn(answer)]
    store.save(chat)
    assert any("chats" in path for path in _files_holding(data_dir, SECRET))

    service.delete_document("secreto.txt")
    assert _files_holding(data_dir, SECRET) == []
    sources = store.load(chat["id"])["turns"][1]["sources"]
    removed = [s for s in sources if s["file"] == "secreto.txt"]
    assert removed and all(s["removed"] and not s["text"] for s in removed)
    assert [s["text"] for s in sources if s["file"] == "otro.txt"] \
        == ["La clave del almacen de cacao es CACAO-12."]

    service.ingest_bytes("otro.txt", b"Documento nuevo, sin claves.")  # replaced
    assert _files_holding(data_dir, "CACAO-12") == []
