"""The shared library through the real engine (real multilingual embedder, FAISS, SQLite):
published documents are searched by every account, marked ``shared/``, filterable, and
nothing of the publisher's private library comes along."""

from __future__ import annotations

from pathlib import Path

from rag import shared
from rag.auth import Accounts
from rag.service import RagService
from rag.settings import load_settings

POLICY = "Holiday policy.\n\nEvery employee gets thirty days of paid leave per year."
SALARY = "Confidential.\n\nThe director's salary is ninety thousand euros."
BOB = "Bob's notes.\n\nThe parking garage closes at midnight on weekdays."


def test_published_documents_are_searched_by_everyone_read_only(data_dir: Path) -> None:
    accounts = Accounts(data_dir)
    ana = accounts.create_user("ana", "a long passphrase")
    bob = accounts.create_user("bob", "a long passphrase")
    admin = RagService(load_settings(accounts.home(ana)))
    admin.ingest_bytes("policy.txt", POLICY.encode())
    admin.ingest_bytes("salary.txt", SALARY.encode())
    library = RagService(load_settings(accounts.home(ana)).with_changes(
        data_dir=str(accounts.shared_home())))
    reports = shared.publish(admin, library, ["policy.txt"])
    assert [r.status for r in reports] == ["added"]

    user = RagService(load_settings(accounts.home(bob)))
    user.ingest_bytes("notes.txt", BOB.encode())
    user.shared = RagService(library.settings)
    found = user.search("How many days of paid leave do employees get?", k=3)
    assert found[0].file_name == "shared/policy.txt" and "thirty days" in found[0].text
    assert [s.rank for s in found] == list(range(1, len(found) + 1))
    assert {s.file_name for s in found} <= {"shared/policy.txt", "notes.txt"}
    everything = user.search("director salary euros", k=10)
    assert all("salary" not in s.text for s in everything)  # never published
    only_own = user.search("paid leave", k=3, documents=["notes.txt"])
    assert [s.file_name for s in only_own] == ["notes.txt"]
    only_shared = user.search("parking garage", k=3, documents=["shared/policy.txt"])
    assert [s.file_name for s in only_shared] == ["shared/policy.txt"]
    assert [d.name for d in user.list_documents()] == ["notes.txt"]  # own library unchanged
