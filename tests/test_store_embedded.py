"""The embedded store at scale: FTS5 keyword search, the change log that keeps FAISS in
step without rebuilds, delta saves, the IVF index past a threshold and exact filters.
Real SQLite and FAISS, random vectors (no model)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from rag import library_index, vector_index
from rag.library import Library
from rag.schema import Chunk, LoadedDocument, Section
from tests.store_checks import check_store, random_vectors

DIM = 16


def add(library: Library, name: str, texts: list[str], seed: int,
        vectors: np.ndarray | None = None) -> tuple[str, str]:
    doc = LoadedDocument(file_name=name, kind="txt", sections=[Section(t) for t in texts],
                         content_hash=f"{name}-{seed}".ljust(64, "0")[:64], pages=len(texts))
    chunks = [Chunk(text=t, file_name=name, page=None, heading="",
                    content_hash=f"{name}-{seed}-{i}", ordinal=i) for i, t in enumerate(texts)]
    if vectors is None:
        vectors = random_vectors(len(texts), DIM, seed)
    return library.add_document(doc, chunks, vectors, "\n".join(texts).encode())


def test_keyword_search_folds_accents_and_case_and_filters_by_document(tmp_path):
    library = Library(tmp_path / "lib", "test", DIM)
    add(library, "a.txt", ["La Información del pingüino", "otra cosa distinta"], 1)
    add(library, "b.txt", ["informacion sin tildes sobre PINGUINOS y pinguino"], 2)
    found = library.keyword_search("¿Qué INFORMACIÓN hay del pingüino?", 5)
    rows = library.chunk_rows([i for i, _ in found])
    assert {rows[i][0] for i, _ in found} == {"a.txt", "b.txt"}
    only_b = library.keyword_search("información pingüino", 5, ["b.txt"])
    assert [library.chunk_rows([i])[i][0] for i, _ in only_b] == ["b.txt"]
    assert library.keyword_search("información", 5, []) == []
    # FTS5 syntax in a question is plain text, never an error or an operator
    for hostile in ['"', 'NEAR(a b)', "pingüino*", "a AND OR NOT", "col:x", "^", "()", "-"]:
        library.keyword_search(hostile, 5)
    assert library.keyword_search("el de la y", 5) == []  # only function words


def test_fts_index_changes_with_the_chunks(tmp_path):
    library = Library(tmp_path / "lib", "test", DIM)
    add(library, "a.txt", ["faro del puerto"], 1)
    add(library, "a.txt", ["molino de viento"], 2)  # replaced: old text gone from the index
    assert library.keyword_search("faro", 5) == []
    assert len(library.keyword_search("molino", 5)) == 1
    library.delete_document("a.txt")
    assert library.keyword_search("molino", 5) == []
    db = sqlite3.connect(tmp_path / "lib" / "library.sqlite3")
    assert db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')") is not None


def test_word_counts_are_remembered_until_any_process_changes_the_library(tmp_path,
                                                                          monkeypatch):
    from rag import keywords

    root = tmp_path / "lib"
    writer, reader = Library(root, "test", DIM), Library(root, "test", DIM)
    add(writer, "a.txt", ["faro del puerto", "faro de la costa", "molino"], 1)
    counted: list[list[str]] = []
    real = keywords.document_frequencies
    monkeypatch.setattr(keywords, "document_frequencies",
                        lambda db, terms: counted.append(terms) or real(db, terms))
    assert len(reader.keyword_search("faro", 5)) == 2
    assert len(reader.keyword_search("faro acantilado", 5)) == 2
    assert counted == [["faro"], ["acantilado"]]  # faro's count remembered, not re-read
    add(writer, "b.txt", ["acantilado y faro"], 2)  # another library object: new version
    assert len(reader.keyword_search("faro acantilado", 5)) == 3
    assert counted[-1] == ["faro", "acantilado"]
    writer.delete_document("b.txt")
    assert reader.keyword_search("acantilado", 5) == []


def test_common_words_are_left_out_past_the_postings_budget(tmp_path, monkeypatch):
    from rag import keywords

    library = Library(tmp_path / "lib", "test", DIM)
    add(library, "a.txt", [f"puerto número {i}" for i in range(8)] + ["puerto faro"], 1)
    monkeypatch.setattr(keywords, "POSTINGS_BUDGET", 4)
    hits = library.keyword_search("puerto faro", 10)
    assert len(hits) == 1  # only the rare word scored: "puerto" is in 9 chunks
    assert library.chunk_rows([hits[0][0]])[hits[0][0]][3] == "puerto faro"


def test_a_deleted_documents_vectors_leave_the_store_unless_another_chunk_shares_them(
        tmp_path):
    library = Library(tmp_path / "lib", "test", DIM)

    def add_with_hashes(name: str, texts: list[str], hashes: list[str]) -> None:
        doc = LoadedDocument(file_name=name, kind="txt", sections=[Section(t) for t in texts],
                             content_hash=name.ljust(64, "0"), pages=1)
        chunks = [Chunk(text=t, file_name=name, page=None, heading="", content_hash=h,
                        ordinal=i) for i, (t, h) in enumerate(zip(texts, hashes, strict=True))]
        library.add_document(doc, chunks, random_vectors(len(texts), DIM, 1), b"x")

    add_with_hashes("a.txt", ["uno", "dos"], ["h-uno", "h-dos"])
    add_with_hashes("b.txt", ["uno", "tres"], ["h-uno", "h-tres"])  # "uno" in both

    def stored() -> set[str]:
        return {r[0] for r in library._db.execute("SELECT content_hash FROM embeddings")}

    assert stored() == {"h-uno", "h-dos", "h-tres"}
    library.delete_document("a.txt")
    assert stored() == {"h-uno", "h-tres"}  # b.txt still needs "uno"
    library.delete_document("b.txt")
    assert stored() == set()


def test_other_process_changes_are_applied_without_a_rebuild(tmp_path, monkeypatch):
    root = tmp_path / "lib"
    writer, reader = Library(root, "test", DIM), Library(root, "test", DIM)
    add(writer, "a.txt", ["uno", "dos"], 1)
    assert reader.dense_search(random_vectors(1, DIM, 1)[0], 1)  # reader caught up

    def no_rebuild(*args, **kwargs):
        raise AssertionError("full rebuild")

    monkeypatch.setattr(vector_index.VectorIndex, "build", no_rebuild)
    vectors = random_vectors(3, DIM, 7)
    add(writer, "b.txt", ["tres", "cuatro", "cinco"], 7, vectors)
    hit = reader.dense_search(vectors[2], 1)[0]
    assert reader.chunk_rows([hit[0]])[hit[0]][3] == "cinco"
    writer.delete_document("b.txt")
    assert "b.txt" not in {reader.chunk_rows([i])[i][0]
                           for i, _ in reader.dense_search(vectors[2], 5)}
    # a fresh open loads the saved file and applies the delta: no rebuild either
    assert Library(root, "test", DIM).indexed_ids() == writer.indexed_ids()


def test_index_file_is_written_per_batch_of_changes_not_per_document(tmp_path, monkeypatch):
    monkeypatch.setattr(library_index, "SAVE_MIN_CHANGES", 50)
    root = tmp_path / "lib"
    library = Library(root, "test", DIM)
    saves = []
    real_save = vector_index.VectorIndex.save
    monkeypatch.setattr(vector_index.VectorIndex, "save",
                        lambda self, folder, seq: (saves.append(seq), real_save(self, folder, seq)))
    for n in range(40):  # 40 documents x 3 chunks = 120 changes: 2 saves, not 40
        add(library, f"d{n}.txt", [f"texto {n} {i}" for i in range(3)], n)
    assert 1 <= len(saves) <= 3, saves
    label = json.loads((root / "index.json").read_text())
    assert label["seq"] == saves[-1] and (root / label["file"]).is_file()
    assert len(list(root.glob("index-*.faiss"))) == 1
    db = sqlite3.connect(root / "library.sqlite3")
    assert db.execute("SELECT MIN(seq) FROM changes").fetchone()[0] > label["seq"]  # pruned
    check_store(root, "test", DIM)


def test_reader_behind_a_pruned_log_reloads_the_saved_index(tmp_path, monkeypatch):
    monkeypatch.setattr(library_index, "SAVE_MIN_CHANGES", 10)
    root = tmp_path / "lib"
    writer, reader = Library(root, "test", DIM), Library(root, "test", DIM)
    add(writer, "a.txt", ["a"], 1)
    reader.indexed_ids()
    for n in range(12):
        add(writer, f"d{n}.txt", [f"t{n}-{i}" for i in range(3)], 100 + n)
    assert reader.indexed_ids() == writer.indexed_ids()
    assert len(reader.indexed_ids()) == 37


def _exact(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(ids[i]) for i in np.argsort(-(vectors @ query))[:k]]


def test_ivf_past_the_threshold_with_exact_document_filters(tmp_path):
    root = tmp_path / "lib"
    library = Library(root, "test", DIM, ann_min=400)
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((20, DIM)).astype(np.float32)
    per_doc = 25
    all_vectors = []
    for n in range(24):  # 600 chunks in clusters, like real embeddings
        v = centers[rng.integers(0, 20, per_doc)] + 0.3 * rng.standard_normal((per_doc, DIM))
        v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
        all_vectors.append(v)
        add(library, f"d{n:02d}.txt", [f"doc {n} part {i}" for i in range(per_doc)], n, v)
    assert library._index.index.approximate  # rebuilt as IVF once past 400
    ids = np.array(sorted(library.indexed_ids()))
    vectors = library.vectors(ids.tolist())
    hits = total = 0
    for q in range(30):
        query = vectors[q * 17]
        found = [i for i, _ in library.dense_search(query, 10)]
        hits += len(set(found) & set(_exact(vectors, ids, query, 10)))
        total += 10
    assert hits / total >= 0.9
    # a filter is exact: the best chunks of those documents, whatever lists they sit in
    allowed = {cid for cid, row in library.chunk_rows(ids.tolist()).items()
               if row[0] in ("d03.txt", "d17.txt")}
    mask = np.isin(ids, list(allowed))
    for q in range(5):
        query = all_vectors[q][0]
        found = [i for i, _ in library.dense_search(query, 8, ["d03.txt", "d17.txt"])]
        assert found == _exact(vectors[mask], ids[mask], query, 8)
    # reopened: the IVF file loads as it was; deletes reach it
    reopened = Library(root, "test", DIM, ann_min=400)
    library.delete_document("d03.txt")
    assert not reopened.dense_search(all_vectors[3][0], 5, ["d03.txt"])
    check_store(root, "test", DIM)


def test_library_from_before_the_change_log_is_migrated(tmp_path):
    """A library written by the previous version (no FTS table, no change log, an
    index.json labelled by generation) opens, gets its keyword index, and works."""
    root = tmp_path / "lib"
    library = Library(root, "test", DIM)
    add(library, "a.txt", ["el faro del puerto", "la cosecha de café"], 1)
    library.close()
    db = sqlite3.connect(root / "library.sqlite3")
    db.executescript("DROP TABLE chunks_fts; DROP TABLE changes; DROP TRIGGER IF EXISTS "
                     "chunks_log_insert; DROP TRIGGER IF EXISTS chunks_log_delete;")
    db.close()
    for old in root.glob("index*"):
        old.unlink()
    (root / "index.json").write_text('{"generation": 3, "count": 2, "dim": 16}')
    reopened = Library(root, "test", DIM)
    assert len(reopened.keyword_search("cafe", 5)) == 1
    assert len(reopened.indexed_ids()) == 2
    add(reopened, "b.txt", ["nuevo"], 2)
    check_store(root, "test", DIM)


@pytest.mark.parametrize("n", [0, 100, 50_000, 1_000_000])
def test_ivf_sizes(n):
    lists = vector_index.list_count(n)
    assert 64 <= lists <= 4096 and lists & (lists - 1) == 0
    assert vector_index.probe_count(lists) >= 8
