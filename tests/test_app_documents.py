"""The documents page under AppTest with fake models: multi-file upload with a per-file
report (pages, chunks, warnings, duplicates, failures), the library table, delete,
re-index and the sample documents."""

from __future__ import annotations

import pytest
from pdf_factory import make_pdf

from rag import samples

PAGE = "pages/documents.py"


@pytest.fixture
def documents(app):
    app.run()
    app.switch_page(PAGE).run()
    return app


def _upload(app, files: list[tuple[str, bytes, str]]):
    uploader = app.file_uploader[0]
    assert uploader.accept_multiple_files
    assert set(uploader.allowed_type) >= {".pdf", ".docx", ".txt", ".md"}
    uploader.set_value(files)
    app.run()
    app.button(key="ingest").click().run()
    assert not app.exception, app.exception
    return app


def _reports(app) -> dict[str, dict]:
    return {r["file_name"]: r for r in app.session_state["reports"]}


def _table(app) -> list[dict]:
    return app.dataframe[0].value.to_dict("records")


def test_empty_state(documents) -> None:
    assert "Aún no hay documentos" in documents.info[0].value
    assert documents.button(key="ingest").disabled


def test_upload_reports_each_file(documents) -> None:
    pdf = make_pdf(["Primera página con texto.", None, "Tercera página con más texto."])
    _upload(documents, [
        ("informe.pdf", pdf, "application/pdf"),
        ("notas.md", b"# Notas\n\nUna nota breve.", "text/markdown"),
        ("copia.md", b"# Notas\n\nUna nota breve.", "text/markdown"),
        ("roto.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"),
    ])
    reports = _reports(documents)
    assert reports["informe.pdf"]["status"] == "added"
    assert reports["informe.pdf"]["pages"] == 3 and reports["informe.pdf"]["chunks"] >= 1
    assert reports["notas.md"]["status"] == "added"
    assert reports["copia.md"]["status"] == "skipped"
    assert reports["roto.pdf"]["status"] == "failed"

    warnings = [w.value for w in documents.warning]
    assert any("la página 2 no tiene texto" in w for w in warnings)  # translated
    assert any("notas\\.md" in w for w in warnings)  # the duplicate names its twin
    assert any("roto\\.pdf" in e.value and "dañado" in e.value for e in documents.error)
    assert any("3 páginas" in c.value for c in documents.caption)

    names = [row["name"] for row in _table(documents)]
    assert names == ["informe.pdf", "notas.md"]
    assert documents.file_uploader[0].value in (None, [])  # reset for the next upload


def test_delete_documents(documents, service) -> None:
    service.ingest_bytes("a.txt", b"Texto sobre manzanas.")
    service.ingest_bytes("b.txt", b"Texto sobre peras.")
    documents.run()
    documents.multiselect(key="delete_pick").set_value(["a.txt"]).run()
    documents.button(key="delete").click().run()
    assert not documents.exception
    assert [row["name"] for row in _table(documents)] == ["b.txt"]
    assert any("a\\.txt" in s.value for s in documents.success)
    assert [d.name for d in service.list_documents()] == ["b.txt"]


def test_reindex_rebuilds_every_document(documents, service) -> None:
    service.ingest_bytes("a.txt", b"Texto sobre manzanas. " * 50)
    documents.run()
    documents.button(key="reindex").click().run()
    assert not documents.exception
    reports = _reports(documents)
    assert reports["a.txt"]["status"] == "added"
    assert [row["name"] for row in _table(documents)] == ["a.txt"]


def test_load_sample_documents(documents, data_dir) -> None:
    documents.button(key="samples").click().run()
    assert not documents.exception
    shipped = {p.name for p in samples.sample_files()}
    assert {r["file_name"] for r in documents.session_state["reports"]} == shipped
    assert all(r["status"] == "added" for r in documents.session_state["reports"])
    assert {row["name"] for row in _table(documents)} == shipped
    copied = {p.name for p in (data_dir / "samples").iterdir()}
    assert copied == shipped | {"LICENSE", "NOTICE"}


def test_report_and_table_in_english(documents) -> None:
    documents.segmented_control(key="ui_lang_choice").set_value("en").run()
    _upload(documents, [("scan.pdf", make_pdf(["Some text here.", None]), "application/pdf")])
    assert any("page 2 has no text" in w.value for w in documents.warning)
    assert any("2 pages" in c.value for c in documents.caption)
    assert documents.title[0].value == "Documents"


# Kept whole by safe_file_name (no "/", ":" or "<>"), so the stored name is the upload's.
HOSTILE_NAMES = ["__negrita__ [enlace](evil.example) ![img](x.png) #1.txt",
                 "_cursiva_ `código` $x^2$ ~~tachado~~ www.evil.example.md",
                 "vacío [x](javascript_alert(1)) __b__ _c_.txt"]


def _inert(value: str, *names: str) -> None:
    """``value`` (a message's Markdown source) holds ``names`` only in their escaped form."""
    from rag.i18n import plain

    unescaped = value
    for name in names:
        assert plain(name) in value, (value, plain(name))
        unescaped = unescaped.replace(plain(name), "")
    for marker in ("__", "](", "![", "`", "$", "~~", "www.", "_c_", "#1"):
        assert marker not in unescaped, (marker, value)


def test_every_notice_shows_names_inert(documents, service) -> None:
    """Upload, failure and delete notices escape every name (links, images, emphasis,
    code, LaTeX, colour directives and HTML show as typed)."""
    from rag.i18n import plain

    good, other, empty = HOSTILE_NAMES
    _upload(documents, [(good, b"Texto sobre el faro.", "text/plain"),
                        (other, b"# Nota\n\nOtra nota.", "text/markdown"),
                        (empty, b"", "text/plain")])
    reports = _reports(documents)
    assert [reports[n]["status"] for n in HOSTILE_NAMES] == ["added", "added", "failed"]
    bodies = [m.value for m in documents.markdown if "—" in m.value]
    for name in HOSTILE_NAMES:
        assert any(plain(name) in body for body in bodies), (name, bodies)
    errors = [e.value for e in documents.error]
    assert len(errors) == 1
    _inert(errors[0], empty)
    documents.multiselect(key="delete_pick").set_value([good, other]).run()
    documents.button(key="delete").click().run()
    assert not documents.exception
    (notice,) = [s.value for s in documents.success]
    _inert(notice, good, other)


def test_duplicate_name_warning_shows_names_inert(documents) -> None:
    """Two files of one upload with the same hostile name: the warning that names both (the
    upload's name and the one it is stored as) shows them inert."""
    from rag.i18n import plain

    name = HOSTILE_NAMES[0]
    _upload(documents, [(name, b"Primera nota sobre el faro.", "text/plain"),
                        (name, b"Segunda nota, otra distinta.", "text/plain")])
    stored = [r["file_name"] for r in documents.session_state["reports"]]
    assert stored[0] == name and stored[1] != name, stored
    warnings = [w.value for w in documents.warning if plain(name) in w.value]
    assert warnings, [w.value for w in documents.warning]
    for warning in warnings:
        _inert(warning, name, stored[1])
