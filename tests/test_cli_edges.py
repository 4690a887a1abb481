"""The CLI's edges, run as a person runs it (``python -m rag``, real engine): bad input gets
one clear ``error:`` line, never a Python traceback or the install's absolute paths."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import cli

ROOT = Path(__file__).resolve().parents[1]


def rag(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """In this process (fast): ``python -m rag ARGS`` as ``cli.main`` runs it."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            code = cli.main([*args, "--data", str(data), "-q"])
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
    return subprocess.CompletedProcess(args, code, out.getvalue(), stderr.getvalue())


def run_process(*args: str | bytes, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "RAG_DATA_DIR": str(data), **env}
    return subprocess.run([sys.executable, "-m", "rag", *args, "-q"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, errors="replace", timeout=300)


def assert_clear_error(done: subprocess.CompletedProcess[str], message: str,
                       code: int = 2) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and str(ROOT) not in done.stderr, done.stderr
    assert message in done.stderr, done.stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    docs = tmp_path_factory.mktemp("docs")
    (docs / "cacao.txt").write_text("La finca Las Palmas cosechó 412 quintales de cacao.",
                                    encoding="utf-8")
    assert rag("ingest", str(docs), data=data).returncode == 0
    return data


def test_queries_file_with_invalid_utf8(data, tmp_path):
    queries = tmp_path / "q.txt"
    queries.write_bytes(b"cacao\ncaf\xe9 de Baracoa\n")
    assert_clear_error(rag("search", "--queries", str(queries), data=data),
                       f"error: --queries {queries} is not UTF-8 text (invalid byte at "
                       "position 9).")


def test_missing_queries_file(data, tmp_path):
    assert_clear_error(rag("search", "--queries", "no-such.txt", data=data),
                       "error: --queries no-such.txt: No such file or directory.")


def test_argument_with_invalid_utf8(data):
    done = run_process(b"search", b"caf\xe9", data=data)
    assert_clear_error(done, "error: an argument is not valid UTF-8 text: 'caf\ufffd'")


@pytest.mark.parametrize("history", ['{"role": "user"}', "[1, 2]", "[{\"role\": \"user\"}]",
                                     "not json", "\xff"])
def test_malformed_history(data, tmp_path, history):
    path = tmp_path / "h.json"
    path.write_bytes(history.encode("latin-1"))
    done = rag("ask", "¿Cuánto cacao?", "--history", str(path), data=data)
    assert_clear_error(done, f"error: --history {path}")


def test_question_over_the_limit(data):
    done = rag("ask", "q" * 100_000, data=data)
    assert_clear_error(done, "error: The question is too long (100,000 characters); the "
                             "limit is 2,000.", code=1)


@pytest.mark.parametrize("k", ["0", "-3", "dos"])
def test_k_below_one_is_rejected(data, k):
    assert_clear_error(rag("search", "cacao", "--k", k, data=data),
                       f"argument --k: must be a whole number of 1 or more, not '{k}'")


def test_doc_naming_a_missing_document(data):
    done = rag("search", "cacao", "--doc", "cacao.txt", "--doc", "nada.pdf", data=data)
    assert_clear_error(done, "error: There is no document 'nada.pdf' in the library 'default'",
                       code=1)
    assert rag("search", "cacao", "--doc", "cacao.txt", data=data).returncode == 0


def test_extract_parses_in_the_sandbox(data, tmp_path):
    """The sandbox's time limit applies: the file is read by a worker, not by the CLI."""
    from tests.hostile_builders import pdf_bomb

    bomb = tmp_path / "bomba.pdf"
    bomb.write_bytes(pdf_bomb())
    done = run_process("extract", str(bomb), data=data, RAG_PARSE_TIMEOUT_S="1",
                       RAG_PARSE_MEMORY_MB="4096")
    assert_clear_error(done, "bomba.pdf took longer than 1 s to read and was skipped.", 1)
    ok = rag("extract", str(ROOT / "rag" / "sample_docs" / "oxigeno.md"), data=data)
    assert ok.returncode == 0 and "xígeno" in ok.stdout


def test_missing_file_to_extract(data):
    assert_clear_error(rag("extract", "no-such.pdf", data=data),
                       "error: no-such.pdf: No such file or directory.")


@pytest.mark.parametrize(("option", "message"), [
    (["--embedder", "foo"], "--embedder: embedder must be one of minilm, use-multilingual, "
                            "not 'foo'"),
    (["--library", "  "], "--library: library must be a name that is not blank, not '  '")])
def test_bad_option_values_are_refused_by_name(tmp_path, option, message) -> None:
    """Options are checked like settings.json: a clear message naming the option, exit 2,
    and nothing created in the data dir."""
    done = subprocess.run([sys.executable, "-m", "rag", "search", "hola", "--data",
                           str(tmp_path / "data"), *option], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {message}", done.stderr
    assert not (tmp_path / "data").exists()
