"""`python -m rag users …` and `--user NAME` on library commands: the real CLI (in this
process, so the real embedder loads once; one run as a subprocess), temp data dirs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.auth import Accounts

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def rag(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``rag(*args, data=..., stdin=...)``: run ``python -m rag`` in this process."""
    from rag.cli import main

    def run(*args: str, data: Path, stdin: str = "", check: bool = True) -> Done:
        monkeypatch.setenv("RAG_DATA_DIR", str(data))
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main([*args])
        out, err = capsys.readouterr()
        if check and code != 0:
            raise AssertionError(f"rag {args} exited {code}:\n{err}")
        return Done(code, out, err)

    return run


def test_python_m_rag_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "rag", "users", "add", "ana",
                           "--password-stdin"], cwd=ROOT, env=env, input="a passphrase!\n",
                          capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.startswith("added ana (admin)")
    assert Accounts(tmp_path / "data").authenticate("ana", "a passphrase!").is_admin


def test_users_commands(rag, data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "added ana (admin)" in rag("users", "add", "ana", "--password-stdin", data=data,
                                      stdin="ana's passphrase\n").stdout
    assert "added bob (user)" in rag("users", "add", "bob", "--password-stdin", data=data,
                                     stdin="bob's passphrase\n").stdout
    short = rag("users", "add", "carl", "--password-stdin", data=data, stdin="short\n",
                check=False)
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    listed = json.loads(rag("users", "list", "--json", data=data).stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("ana", "admin"), ("bob", "user")]
    rag("users", "reset-password", "bob", "--password-stdin", data=data,
        stdin="a brand new one\n")
    accounts = Accounts(data)
    assert accounts.authenticate("bob", "a brand new one").name == "bob"
    bob_home = accounts.home(accounts.get("bob"))
    refused = rag("users", "delete", "bob", data=data, stdin="not bob\n", check=False)
    assert refused.returncode == 1 and bob_home.is_dir()
    rag("users", "delete", "bob", data=data, stdin="bob\n")
    assert not bob_home.exists()
    assert [u.name for u in accounts.users()] == ["ana"]
    last = rag("users", "delete", "ana", "--yes", data=data, check=False)
    assert last.returncode == 1 and "administrator" in last.stderr
    unknown = rag("list", "--user", "nobody", data=data, check=False)
    assert unknown.returncode == 1 and "There is no account 'nobody'" in unknown.stderr


def test_user_option_keeps_libraries_apart(rag, data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ("ana", "bob"):
        rag("users", "add", name, "--password-stdin", data=data, stdin="a passphrase!\n")
    codes = {"ana": "AZUL-4417", "bob": "ROJO-9023"}
    for name, code in codes.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "codes.txt").write_text(f"The vault code of the north office is {code}.",
                                          encoding="utf-8")
        rag("ingest", str(folder / "codes.txt"), "--user", name, "-q", data=data)
    for name, code in codes.items():
        found = json.loads(rag("search", "vault code north office", "--json", "--user", name,
                               data=data).stdout)
        texts = " ".join(r["text"] for r in found["results"])
        assert code in texts and codes["bob" if name == "ana" else "ana"] not in texts
    # without --user: the data dir's own library, which is the first administrator's
    listed = json.loads(rag("list", "--json", data=data).stdout)
    assert [d["name"] for d in listed] == ["codes.txt"]
    assert (data / "libraries" / "default").is_dir()
    assert not (data / "users" / "bob" ).exists()  # homes are named by id, not by name


def _names(rag, data: Path, user: str) -> list[str]:
    return [d["name"] for d in json.loads(rag("list", "--json", "--user", user,
                                              data=data).stdout)]


def test_user_option_on_delete_reindex_summarize_and_ask(rag, fake_service,
                                                         data_dir: Path) -> None:
    """Fake models (tests/conftest.py): each command acts on that account's library only."""
    for name in ("ana", "bob"):
        rag("users", "add", name, "--password-stdin", data=data_dir, stdin="a passphrase!\n")
    files = {"ana": {"codes.txt": "The vault code of the north office is AZUL-4417."},
             "bob": {"codes.txt": "The vault code of the north office is ROJO-9023.",
                     "parking.txt": "The parking garage closes at midnight. Bob parks there."}}
    for name, contents in files.items():
        folder = data_dir.parent / f"in-{name}"
        folder.mkdir()
        for file_name, text in contents.items():
            (folder / file_name).write_text(text, encoding="utf-8")
        rag("ingest", str(folder), "--user", name, "-q", data=data_dir)
    assert _names(rag, data_dir, "bob") == ["codes.txt", "parking.txt"]

    rag("delete", "codes.txt", "--user", "bob", data=data_dir)
    assert _names(rag, data_dir, "bob") == ["parking.txt"]
    assert _names(rag, data_dir, "ana") == ["codes.txt"]  # ana's copy stays

    reindexed = rag("reindex", "--user", "bob", "-q", data=data_dir).stdout
    assert "parking.txt" in reindexed and "codes.txt" not in reindexed
    assert _names(rag, data_dir, "ana") == ["codes.txt"]

    summary = rag("summarize", "parking.txt", "--user", "bob", "-q", data=data_dir).stdout
    assert "The parking garage closes at midnight." in summary
    elsewhere = rag("summarize", "parking.txt", "--user", "ana", "-q", data=data_dir,
                    check=False)
    assert elsewhere.returncode == 1 and "parking.txt" in elsewhere.stderr

    for name, code, other in (("ana", "AZUL-4417", "ROJO-9023"), ("bob", None, "AZUL-4417")):
        out = rag("ask", "What is the vault code of the north office?", "--json", "--user",
                  name, data=data_dir).stdout
        answer = json.loads(out)
        assert other not in out
        if code:
            assert code in answer["answer"]
            assert [s["file"] for s in answer["sources"]] == ["codes.txt"]
        else:  # bob deleted his copy: only his parking note is left to cite
            assert {s["file"] for s in answer["sources"]} <= {"parking.txt"}


def test_ask_and_search_with_user_cover_the_shared_library(rag, fake_service, data_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    """As in the app: with accounts on, a person's search covers the published documents."""
    from rag import shared
    from rag.settings import load_settings

    monkeypatch.setenv("RAG_AUTH", "on")
    accounts = Accounts(data_dir)
    accounts.create_user("ana", "a passphrase!")
    bob = accounts.create_user("bob", "a passphrase!")
    admin = fake_service(load_settings(data_dir))
    admin.ingest_bytes("policy.txt", b"Every employee gets thirty days of paid leave per year.")
    admin.ingest_bytes("salary.txt", b"The director's salary is ninety thousand euros per year.")
    library = fake_service(shared.library_settings(admin.settings, data_dir))
    assert [r.status for r in shared.publish(admin, library, ["policy.txt"])] == ["added"]
    fake_service(load_settings(accounts.home(bob))).ingest_bytes(
        "notes.txt", b"The parking garage closes at midnight on weekdays.")

    question = "How many days of paid leave does every employee get per year?"
    found = json.loads(rag("search", question, "--json", "--user", "bob",
                           data=data_dir).stdout)
    files = [r["file"] for r in found["results"]]
    assert files[0] == "shared/policy.txt" and set(files) <= {"shared/policy.txt", "notes.txt"}
    out = rag("ask", question, "--json", "--user", "bob", data=data_dir).stdout
    answer = json.loads(out)
    assert answer["sources"][0]["file"] == "shared/policy.txt"
    assert "thirty days of paid leave" in answer["answer"] and "salary" not in out
    only = json.loads(rag("search", question, "--json", "--user", "bob", "--doc",
                          "shared/policy.txt", data=data_dir).stdout)
    assert {r["file"] for r in only["results"]} == {"shared/policy.txt"}

    monkeypatch.setenv("RAG_AUTH", "off")  # single-person mode: the data dir's own only
    found = json.loads(rag("search", question, "--json", data=data_dir).stdout)
    assert not any(r["file"].startswith("shared/") for r in found["results"])
