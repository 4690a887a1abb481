"""Real manuals through the real engine (sandboxed parser, multilingual USE embedder,
FAISS + BM25): tables of contents stay out of the answers, running headers out of the
passages, chunks inside one section, citations name the section and the embedder reads it
with the passage. Office documents whose numbered lines end in numbers (invoices,
contracts, price lists) are not mistaken for tables of contents."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest
from debian_docs import pdf_and_twin
from pdf_factory import make_pdf

from rag import sandbox
from rag.chunking import clip_heading
from rag.loaders import load_bytes
from rag.loaders.pdf_contents import is_toc_entry, toc_pages
from rag.loaders.pdf_layout import Line, PageLines, is_roman, running_lines
from rag.loaders.pdf_sections import _follows, read_outline
from rag.retrieval import quoted_first
from rag.schema import Chunk, LoadedDocument
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
def embedded() -> list[str]:
    """Every text the engine gave the embedder while ingesting maint-guide-es."""
    return []


@pytest.fixture(scope="module")
def service(tmp_path_factory, manuals, embedded) -> RagService:
    svc = RagService(load_settings(tmp_path_factory.mktemp("data")))
    embedder = svc.embedder  # the real one (process-wide): record what it is given

    def recording(texts: list[str], *args, **kwargs):
        embedded.extend(texts)
        return type(embedder).embed(embedder, texts, *args, **kwargs)

    embedder.embed = recording
    try:
        report = svc.ingest_file(manuals["maint-guide-es"])
    finally:
        del embedder.embed
    assert report.status == "added", report
    return svc


@pytest.fixture(scope="module")
def documents(manuals) -> dict[str, LoadedDocument]:
    """Each manual as the sandboxed parser reads it."""
    return {name: sandbox.load_bytes(path.read_bytes(), path.name)
            for name, path in manuals.items()}


@pytest.fixture(scope="module")
def chunks(service, manuals, documents) -> dict[str, list[Chunk]]:
    """Each manual's chunks: maint-guide-es as stored by the engine; developers-reference
    split by the engine's chunker (not embedded: time)."""
    return {"maint-guide-es": service.library.chunks_of(manuals["maint-guide-es"].name),
            "developers-reference": service.chunker().split(documents["developers-reference"])}


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


def test_contents_pages_are_left_out(documents):
    """The printed tables of contents (leader dots, outline titles) are not indexed."""
    contents = {"maint-guide-es": {4, 5, 6}, "developers-reference": {3, 4, 5, 6, 7, 8}}
    for name, pages in contents.items():
        indexed = {s.page for s in documents[name].sections}
        assert not indexed & pages, name
        assert max(pages) + 1 in indexed, name  # the body that follows them is


def test_no_passage_holds_a_running_header(chunks):
    for name, found in chunks.items():
        assert len(found) > 100
        leaks = [c.text[:120] for c in found if RUNNING[name].search(c.text)]
        assert not leaks, (name, leaks[:3])


def test_chunks_stay_inside_one_section(chunks, manuals, documents):
    """Each chunk is part of the text of the one section whose page and heading it carries
    (a chunk spanning two sections is part of neither); chunks carry their section path,
    and the outline's sections are found."""
    for name, path in manuals.items():
        sections: dict[tuple[int | None, str], list[str]] = {}
        for section in documents[name].sections:
            sections.setdefault((section.page, clip_heading(section.heading)), []).append(
                section.text)
        for chunk in chunks[name]:
            texts = sections.get((chunk.page, chunk.heading), [])
            assert sum(chunk.text in text for text in texts) == 1, \
                (name, chunk.page, chunk.heading, chunk.text[:200])
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


def test_the_embedder_reads_each_passage_with_its_heading(service, embedded):
    """What reaches the embedder for a chunk starts with its section path."""
    stored = service.library.chunks_of("maint-guide.es.pdf")
    assert len(embedded) >= len({c.content_hash for c in stored}) > 100
    for chunk in (c for c in stored if c.heading):
        assert any(text.endswith(chunk.text) and text.startswith(chunk.heading)
                   for text in embedded), (chunk.heading, chunk.text[:80])
    section = next(c for c in stored if c.heading.endswith("2.2 Elige el programa"))
    assert any("2.2 Elige el programa" in t and section.text in t for t in embedded)


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
    assert is_toc_entry("Prefacio . . . . . . . . . . xiv")
    assert is_toc_entry("A.1 Herramientas vii")
    assert not is_toc_entry("El paquete tiene 3 dependencias y pesa 20")
    assert not is_toc_entry("3. Las partes se someten al derecho civil")
    assert not is_toc_entry("2. El hormigón será de tipo mix")
    assert not is_toc_entry("4. Las luces de la sala quedarán en modo dim")
    assert all(map(is_roman, ["iv", "xiv", "XII", "vi", "xlii"]))
    assert not any(map(is_roman, ["civil", "mix", "MIX", "dim", "Xiv", "mi", "cm", "XL", ""]))
    assert _follows((2, 1), (2, 2)) and _follows((2, 1), (2, 1, 1)) and _follows((2, 1), (3,))
    assert not _follows((2, 1), (7, 4)) and not _follows((2, 1), (2, 1))


COVER = "Talleres Pérez S.L.\nCalle Mayor 12, 28013 Madrid\n\nDocumento para el cliente."
OFFICE_PAGES = {  # numbered lines ending in a number (or in "civil"), but not contents
    "factura.pdf": ("FACTURA N.º 2024-0117 (continuación)\nDetalle, importes en euros\n"
                    "1 Servicio de consultoría 1200\n2 Licencia anual 300\n"
                    "3 Soporte técnico 450\n4 Formación del personal 600\n"
                    "5 Desplazamientos 90\nBase imponible 2640\nIVA 21 % 554\nTotal 3194"),
    "contrato.pdf": ("CONTRATO DE PRESTACIÓN DE SERVICIOS\nCLÁUSULAS\n"
                     "1. El prestador realizará los trabajos descritos en el anexo I\n"
                     "2. El precio total del servicio asciende a 1500\n"
                     "3. Las partes se someten al derecho civil\n"
                     "4. El plazo de ejecución de los trabajos es de 30\n"
                     "5. Toda modificación requiere acuerdo escrito, según el artículo 1544"),
    "tarifa.pdf": ("TARIFA DE PRECIOS 2024\nFerretería Hermanos García\n"
                   "1 Tornillo hexagonal M6 12\n2 Tuerca autoblocante M6 8\n"
                   "3 Arandela plana 5\n4 Taco de nailon 15\n5 Brida de plástico 20\n"
                   "6 Cinta aislante 35\nPrecios en céntimos por unidad, IVA incluido"),
}


@pytest.mark.parametrize("name", OFFICE_PAGES)
def test_office_pages_are_not_taken_for_contents(name):
    """An invoice's items, a contract's clauses and a price list stay in the index."""
    document = load_bytes(make_pdf([COVER, OFFICE_PAGES[name]]), name)
    text = "\n".join(s.text for s in document.sections if s.page == 2)
    assert all(line in text for line in OFFICE_PAGES[name].splitlines()[2:]), text
    lines = [Line(t) for t in OFFICE_PAGES[name].splitlines()]
    assert toc_pages([PageLines([Line(COVER)]), PageLines(lines)], []) == set()


def _page(text: str) -> PageLines:
    return PageLines([Line(t) for t in text.splitlines()])


def test_contents_without_leader_dots_are_found():
    """With no leader dots, a contents title, the outline's titles, the previous contents
    page, or section numbers with pages that fit the document make a table of contents."""
    body = [_page("Texto del capítulo con frases normales.\nOtra línea del texto.")] * 12
    titled = _page("Índice\n1 Introducción 3\n2 Objeto del contrato 4\n3 Condiciones 6\n"
                   "4 Anexos 9")
    more = _page("5 Garantías 10\n6 Penalizaciones 11\n7 Resolución 11\n8 Firmas 12")
    assert toc_pages([titled, more, *body], []) == {0, 1}
    listed = _page("1 Introducción 3\n2 Objeto del contrato 4\n3 Condiciones 6\n"
                   "4 Anexos 9\nFirmado en Madrid")
    outline = ["Introducción", "Objeto del contrato", "Condiciones", "Anexos"]
    assert toc_pages([listed, *body], outline) == {0}
    assert toc_pages([listed, *body], []) == set()
    sections = _page("1 Introducción 1\n1.1 Alcance 1\n1.2 Términos 2\n2 Instalación 4\n"
                     "2.1 Requisitos 4\n2.2 Pasos 6")
    assert toc_pages([sections, *body], []) == {0}
    assert toc_pages([sections, *body[:3]], []) == set()  # page 6 of a 4-page document
    assert _follows((2, 1), (2, 2)) and _follows((2, 1), (2, 1, 1)) and _follows((2, 1), (3,))
    assert not _follows((2, 1), (7, 4)) and not _follows((2, 1), (2, 1))


def test_a_quoted_sentence_ranks_its_passage_first():
    rows = {1: ("a.pdf", 1, "", "Otro texto sobre paquetes."),
            2: ("a.pdf", 2, "", "Construimos los paquetes binarios, utilizado por el "
                               "Instalador de Debián), desde el paquete fuente.")}
    assert quoted_first("utilizado por el instalador de Debian), desde", [1, 2], rows) == [2, 1]
    assert quoted_first("paquetes", [1, 2], rows) == [1, 2]  # too short to be a quote
