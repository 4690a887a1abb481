"""Small real documents for engine tests, written into a folder: a multi-page PDF, a DOCX
with headings and a table, a Windows-1252 text file and XQuAD articles as Markdown (from the
9-article subset shipped in tests/data/xquad, CC BY-SA 4.0: see its NOTICE)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pdf_factory import make_pdf

XQUAD_DIR = Path(__file__).resolve().parent / "data" / "xquad"

PDF_PAGES = [
    "Informe anual de la cooperativa Aurora\n\nEste informe resume las actividades del "
    "año 2023 en las tres sedes de la cooperativa.",
    "Resultados de la cosecha\n\nLa cosecha de café de la sede de Pinar del Río alcanzó "
    "4.812 sacos en 2023, un récord histórico para la cooperativa.\n\nEl precio medio "
    "de venta fue de 212 euros por saco.",
    "Plan para 2024\n\nLa cooperativa instalará paneles solares en la planta de secado "
    "de Matanzas durante el segundo trimestre de 2024.",
]


def xquad_articles(language: str) -> list[tuple[str, str, list[dict]]]:
    """(title, text, qas) of every XQuAD article in ``language`` ("es" or "en")."""
    data = json.loads((XQUAD_DIR / f"xquad.{language}.json").read_text(encoding="utf-8"))
    articles = []
    for article in data["data"]:
        paragraphs = [p["context"].replace("\ufeff", "") for p in article["paragraphs"]]
        qas = [qa for p in article["paragraphs"] for qa in p["qas"]]
        articles.append((article["title"], "\n\n".join(paragraphs), qas))
    return articles


def make_docx(path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading("Manual de mantenimiento", level=1)
    doc.add_paragraph("Este manual describe el mantenimiento de la bomba hidráulica BH-220.")
    doc.add_heading("Piezas de repuesto", level=2)
    table = doc.add_table(rows=3, cols=3)
    for row, values in zip(table.rows, [("Pieza", "Código", "Precio"),
                                        ("Junta tórica", "JT-7781", "3,20 €"),
                                        ("Rodete", "RD-1045", "89,00 €")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    doc.add_heading("Frecuencia", level=2)
    doc.add_paragraph("La junta tórica se cambia cada 500 horas de funcionamiento.")
    doc.save(path)


def write_corpus(folder: Path, articles: int = 2) -> dict[str, Path]:
    """Write the test documents; returns them by role."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"pdf": folder / "informe_aurora.pdf", "docx": folder / "manual_bomba.docx",
             "txt": folder / "notas_cp1252.txt"}
    files["pdf"].write_bytes(make_pdf(PDF_PAGES))
    make_docx(files["docx"])
    files["txt"].write_bytes("Notas de la reunión: el año próximo la señora Núñez dirigirá "
                             "la sede de Cienfuegos.".encode("cp1252"))
    for title, text, _ in xquad_articles("es")[:articles]:
        path = folder / f"{title}.md"
        path.write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
        files[title] = path
    return files
