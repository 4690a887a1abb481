"""`python -m rag ...` as people, benchmarks and CI use it: real files, real models."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pypdfium2
import pytest

from tests.corpus import write_corpus, xquad_articles
from tests.debian_docs import pdf_and_twin, word_f1

ROOT = Path(__file__).resolve().parents[1]


def rag(*args: str, data: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-m", "rag", *args, "-q"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"rag {args} exited {done.returncode}:\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    write_corpus(folder, articles=3)
    (folder / "vacío.pdf").write_bytes(b"")
    data = tmp_path_factory.mktemp("data")
    done = rag("ingest", str(folder), data=data, check=False)
    assert done.returncode == 1, "a failed file must make ingest exit non-zero"
    assert "failed   vacío.pdf: vacío.pdf is empty." in done.stdout
    assert "added    informe_aurora.pdf: 3 pages" in done.stdout
    return data


def test_ingest_stores_the_others_and_reports_each_file(data):
    listed = json.loads(rag("list", "--json", data=data).stdout)
    assert len(listed) == 6 and "vacío.pdf" not in {d["name"] for d in listed}


def test_search_queries_file_one_json_line_per_query(data, tmp_path):
    queries = tmp_path / "q.txt"
    queries.write_text("sacos de café Pinar del Río\n\nJT-7781\n", encoding="utf-8")
    lines = rag("search", "--queries", str(queries), "--json", "--k", "2",
                data=data).stdout.splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["query"] for r in results] == ["sacos de café Pinar del Río", "JT-7781"]
    first = results[0]["results"][0]
    assert (first["file"], first["page"]) == ("informe_aurora.pdf", 2)
    assert set(first) >= {"file", "page", "score", "text"}
    assert results[1]["results"][0]["file"] == "manual_bomba.docx"


def test_search_doc_filter(data):
    out = json.loads(rag("search", "cooperativa", "--doc", "notas_cp1252.txt", "--json",
                         data=data).stdout)
    assert {r["file"] for r in out["results"]} == {"notas_cp1252.txt"}


def test_ask_json_has_answer_sources_and_timings(data):
    out = json.loads(rag("ask", "¿Qué instalará la cooperativa en Matanzas?", "--k", "2",
                         "--json", data=data).stdout)
    assert out["answer"] and out["language"] == "es"
    assert out["sources"][0]["file"] == "informe_aurora.pdf" and out["sources"][0]["page"] == 3
    assert set(out["timings"]) >= {"retrieve_ms", "first_token_ms", "tokens_per_s"}
    assert out["timings"]["tokens_per_s"] > 0
    grounding = out["grounding"]
    assert 0.0 <= grounding["supported"] <= 1.0 and isinstance(grounding["unsupported"], list)


def test_ask_streams_to_the_terminal(data):
    done = rag("ask", "Who won Super Bowl 50?", "--lang", "en", "--k", "2", data=data)
    assert "[1] Super_Bowl_50.md" in done.stdout
    assert "tok/s" in done.stderr


def test_extract_separates_pages_with_form_feeds(data, tmp_path):
    from tests.pdf_factory import make_pdf

    pdf = tmp_path / "tres.pdf"
    pdf.write_bytes(make_pdf(["uno", "dos", "tres"]))
    assert rag("extract", str(pdf), data=data).stdout.split("\f") == ["uno", "dos", "tres\n"]


def test_delete_then_list(data, tmp_path):
    note = tmp_path / "temporal.md"
    note.write_text("# Nota\n\nBorrar después.", encoding="utf-8")
    rag("ingest", str(note), data=data)
    assert "temporal.md" in rag("list", data=data).stdout
    assert rag("delete", "temporal.md", data=data).stdout.strip() == "deleted temporal.md"
    assert "temporal.md" not in rag("list", data=data).stdout
    missing = rag("delete", "temporal.md", data=data, check=False)
    assert missing.returncode == 1 and "No document named 'temporal.md'" in missing.stderr


def test_summarize(data):
    done = rag("summarize", "Warsaw.md", "--lang", "es", data=data)
    assert len(done.stdout.strip()) > 40


def test_real_debian_pdf_extract_and_page_citations(tmp_path):
    """maint-guide-es: faithful text, and a sentence from page N is cited as page N."""
    pdf, twin = pdf_and_twin("maint-guide-es")
    text = rag("extract", str(pdf), data=tmp_path).stdout
    assert word_f1(text, twin) >= 0.9
    data = tmp_path / "data"
    rag("ingest", str(pdf), data=data)
    document = pypdfium2.PdfDocument(str(pdf))
    checked = 0
    for page_number in (12, 25, 40):
        page_text = document[page_number - 1].get_textpage().get_text_range()
        lines = [ln.strip() for ln in page_text.splitlines() if len(ln.strip()) > 60]
        query = lines[len(lines) // 2]
        hit = json.loads(rag("search", query, "--k", "1", "--json", data=data).stdout)
        assert hit["results"][0]["page"] == page_number, query
        checked += 1
    assert checked == 3


def test_xquad_recall_at_5_through_search_queries(tmp_path):
    """Answer-containment recall@5 on 6 Spanish XQuAD articles stays high."""
    articles = xquad_articles("es")[:6]
    folder = tmp_path / "xquad"
    folder.mkdir()
    for title, text, _ in articles:
        (folder / f"{title}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    data = tmp_path / "data"
    rag("ingest", str(folder), data=data)
    qas = [qa for _, _, q in articles for qa in q]
    (tmp_path / "q.txt").write_text("\n".join(qa["question"] for qa in qas), encoding="utf-8")
    lines = rag("search", "--queries", str(tmp_path / "q.txt"), "--json", "--k", "5",
                data=data).stdout.splitlines()
    hits = 0
    for qa, line in zip(qas, lines, strict=True):
        texts = [r["text"].lower() for r in json.loads(line)["results"]]
        hits += any(a["text"].lower() in t for a in qa["answers"] for t in texts)
    assert hits / len(qas) >= 0.9


def test_models_lists_the_default_and_where_it_runs(tmp_path):
    out = rag("models", data=tmp_path).stdout
    assert "SmolLM2-135M-Instruct.Q4_1 (default)\tQ4_1" in out
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():  # the CUDA build scripts/install.sh makes
        assert re.search(r"^runs on: GPU: (\d+)/\1 layers offloaded$", out, re.M), out
    else:
        assert re.search(r"^runs on: CPU, \d+ threads$", out, re.M), out
