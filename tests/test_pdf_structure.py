"""Real manuals through the real engine (sandboxed parser, multilingual USE embedder,
FAISS + BM25): tables of contents stay out of the answers, running headers out of the
passages, chunks inside one numbered section, and citations name the section."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest
from debian_docs import pdf_and_twin

from rag import sandbox
from rag.loaders.pdf_layout import Line, PageLines, is_toc_entry, running_lines
from rag.loaders.pdf_sections import _follows, read_outline
from rag.retrieval import quoted_first
from rag.schema import Chunk
from rag.service import RagService
from rag.settings import load_settings

MANUALS = ("maint-guide-es", "developers-reference")
# Each manual's running header/footer, as printed atop/below its body pages.
RUNNING = {
    "maint-guide-es": re.compile(r"Guía del nuevo desarrollador de Debian\s+(\d+ / 63|[ivx]+)\b"),
    "developers-reference": re.compile(
        r"Debian Developer’s Reference, Release 12\.18|^\d+ Chapter \d+\.|"
        r"^\d+(\.\d+)+\. [^\n]{3,80} \d+$", re.M),
}
NUMBERED_TITLE = re.compile(r"^(\d+(?:\.\d+)+)\.? +(\S.*)$")


@pytest.fixture(scope="module")
def manuals() -> dict[str, object]:
    return {name: pdf_and_twin(name)[0] for name in MANUALS}


@pytest.fixture(scope="module")
def service(tmp_path_factory, manuals) -> RagService:
    svc = RagService(load_settings(tmp_path_factory.mktemp("data")))
    report = svc.ingest_file(manuals["maint-guide-es"])
    assert report.status == "added", report
    return svc


@pytest.fixture(scope="module")
def chunks(service, manuals) -> dict[str, list[Chunk]]:
    """Each manual's chunks: maint-guide-es as stored by the engine; developers-reference
    read by the sandboxed parser and split by the engine's chunker (not embedded: time)."""
    other = manuals["developers-reference"]
    document = sandbox.load_bytes(other.read_bytes(), other.name)
    return {"maint-guide-es": service.library.chunks_of(manuals["maint-guide-es"].name),
            "developers-reference": service.chunker().split(document)}


def _toc_pages(path) -> set[int]:
    """Pages (1-based) of the printed table of contents: lines with leader dots."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        found = set()
        for i in range(min(len(pdf), 30)):
            text = pdf[i].get_textpage().get_text_range()
            if text.count(". . . .") >= 5:
                found.add(i + 1)
        return found
    finally:
        pdf.close()


def test_table_of_contents_is_not_cited(service, manuals):
    """Questions made of section titles (the TOC holds every one) are answered from the
    body: no source on a TOC page, and the best source is the titled section."""
    toc = _toc_pages(manuals["maint-guide-es"])
    assert toc >= {4, 5, 6}
    questions = {"¿Cómo elijo el programa que voy a empaquetar?": "2.2 Elige el programa",
                 "¿Cómo se configura quilt?": "3.1 Configurar quilt",
                 "¿Qué contiene el archivo copyright?": "4.2 El archivo copyright",
                 "¿Dónde puedo pedir ayuda?": "1.4 Dónde pedir ayuda"}
    for question, section in questions.items():
        sources = service.search(question, k=5, documents=None)
        assert not {s.page for s in sources} & toc, (question, [s.citation for s in sources])
        assert sources[0].section == section, (question, [s.citation for s in sources])


def test_no_passage_holds_a_running_header(chunks):
    for name, found in chunks.items():
        assert len(found) > 100
        leaks = [c.text[:120] for c in found if RUNNING[name].search(c.text)]
        assert not leaks, (name, leaks[:3])


def test_chunks_stay_inside_one_numbered_section(chunks, manuals):
    """No chunk holds a numbered heading line of its manual (it would then span two
    sections); chunks carry their section path, and the outline's sections are found."""
    for name, path in manuals.items():
        pdf = pdfium.PdfDocument(str(path))
        titles = {e.title for e in read_outline(pdf)}
        pdf.close()
        for chunk in chunks[name]:
            for line in chunk.text.splitlines():
                m = NUMBERED_TITLE.match(line.strip())
                assert not (m and m.group(2).strip() in titles), (chunk.heading, line)
        assert all(c.heading for c in chunks[name] if c.page and c.page > 12)
        leaves = {c.heading.rsplit(" > ", 1)[-1].split(" ", 1)[-1] for c in chunks[name]}
        assert len(titles & leaves) >= 0.8 * len(titles), path.name


def test_citation_names_page_and_section(service):
    """A sentence from section 2.2 (p. 13) is cited as "p. 13 · 2.2 Elige el programa",
    and the section's path is what the passage was embedded with."""
    query = "Probablemente hayas escogido ya el paquete que deseas construir."
    top = service.search(query, k=1)[0]
    assert top.page == 13
    assert top.heading == "2 Primeros pasos > 2.2 Elige el programa"
    assert top.citation == "maint-guide.es.pdf, p. 13 · 2.2 Elige el programa"


# ---- units ------------------------------------------------------------------------------


def test_running_lines_allow_for_changing_numbers():
    def page(n: int, body: str) -> PageLines:
        return PageLines([Line(f"Manual de usuario {n} / 9", 790, 780),
                          Line(body, 700, 690), Line(f"{n}", 30, 20)], height=800)

    pages = [page(n, f"Texto distinto número {n * 7}") for n in range(1, 6)]
    assert running_lines(pages) == [{0, 2}] * 5


def test_toc_entries_and_heading_sequences():
    assert is_toc_entry("2.2. Elige el programa . . . . . . . . . . 7")
    assert is_toc_entry("4.6.1 Sections . . . . . . . . . . 21")
    assert not is_toc_entry("El paquete tiene 3 dependencias y pesa 20")
    assert _follows((2, 1), (2, 2)) and _follows((2, 1), (2, 1, 1)) and _follows((2, 1), (3,))
    assert not _follows((2, 1), (7, 4)) and not _follows((2, 1), (2, 1))


def test_a_quoted_sentence_ranks_its_passage_first():
    rows = {1: ("a.pdf", 1, "", "Otro texto sobre paquetes."),
            2: ("a.pdf", 2, "", "Construimos los paquetes binarios, utilizado por el "
                               "Instalador de Debián), desde el paquete fuente.")}
    assert quoted_first("utilizado por el instalador de Debian), desde", [1, 2], rows) == [2, 1]
    assert quoted_first("paquetes", [1, 2], rows) == [1, 2]  # too short to be a quote
