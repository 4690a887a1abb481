"""Shared by the crash and concurrency tests: write small documents, run the CLI, and check
that a library on disk is consistent."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

from rag.library import Library

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("cooperativa cosecha café sede informe bomba junta turbina faro puente río "
         "montaña ciudad puerto tren mercado escuela hospital biblioteca museo parque "
         "molino granja pesca azúcar tabaco cacao arroz frijol maíz yuca plátano mango "
         "guayaba agua energía solar viento lluvia sequía mantenimiento reparación pieza "
         "código precio venta compra almacén camión barco avión carretera").split()


def document_text(seed: int, words: int = 260) -> str:
    """Deterministic Spanish-looking prose with a unique marker (``MARCA-<seed>``)."""
    rng = random.Random(seed)
    sentences, sentence = [], []
    for i in range(words):
        sentence.append(rng.choice(WORDS))
        if len(sentence) >= rng.randint(8, 16) or i == words - 1:
            sentences.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    middle = len(sentences) // 2
    sentences.insert(middle, f"El identificador de este documento es MARCA-{seed}.")
    return "\n\n".join(" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4))


def write_document(folder: Path, seed: int) -> Path:
    """One file of a kind chosen by ``seed``: .txt, .md, .pdf or .docx."""
    from docx import Document

    from tests.pdf_factory import make_pdf

    text = document_text(seed)
    kind = ("txt", "md", "pdf", "docx")[seed % 4]
    path = folder / f"doc-{seed:03d}.{kind}"
    if kind == "txt":
        path.write_text(text, encoding="utf-8")
    elif kind == "md":
        path.write_text(f"# Documento {seed}\n\n{text}\n", encoding="utf-8")
    elif kind == "pdf":
        paragraphs = text.split("\n\n")
        path.write_bytes(make_pdf(["\n".join(_wrap(p)) for p in paragraphs]))
    else:
        doc = Document()
        for paragraph in text.split("\n\n"):
            doc.add_paragraph(paragraph)
        doc.save(path)
    return path


def _wrap(text: str, width: int = 90) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag", *args, "-q"]


def cli_env() -> dict[str, str]:
    """The environment for CLI subprocesses: no RAG_* settings leak in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def check_store(root: Path, embedder_name: str, dim: int) -> dict[str, int]:
    """Assert the library at ``root`` is consistent and return {document: chunks}.

    SQLite's integrity check passes; names are unique; every chunk belongs to a document and
    has its vector; every document has its original file; and after opening, the FAISS
    index holds exactly the chunks' ids."""
    db = sqlite3.connect(root / "library.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute(
            "SELECT d.name, d.content_hash, d.kind, COUNT(c.id) FROM documents d "
            "LEFT JOIN chunks c ON c.document_id = d.id GROUP BY d.id").fetchall()
        orphans = db.execute("SELECT COUNT(*) FROM chunks WHERE document_id NOT IN "
                             "(SELECT id FROM documents)").fetchone()[0]
        unembedded = db.execute(
            "SELECT COUNT(*) FROM chunks c LEFT JOIN embeddings e "
            "ON e.content_hash = c.content_hash WHERE e.content_hash IS NULL").fetchone()[0]
        chunk_ids = {r[0] for r in db.execute("SELECT id FROM chunks")}
    finally:
        db.close()
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), "duplicate document names"
    assert orphans == 0 and unembedded == 0, (orphans, unembedded)
    missing = [r[0] for r in rows if not (root / "files" / f"{r[1]}.{r[2]}").is_file()]
    assert not missing, f"originals missing for {missing}"
    library = Library(root, embedder_name, dim)
    try:
        ids = library.indexed_ids()
        assert ids == chunk_ids, (len(ids), len(chunk_ids))
    finally:
        library.close()
    return {r[0]: r[3] for r in rows}


def random_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
