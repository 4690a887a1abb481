"""``deploy/colab.py``, the notebook's Drive backup of the data directory: a real library,
real SQLite in WAL mode, snapshot and restore into a new session. The notebook itself runs
in ``test_colab_notebook.py``."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from deploy import colab
from rag.service import RagService
from rag.settings import load_settings


def test_snapshot_keeps_transactions_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    data, backup = tmp_path / "data", tmp_path / "drive"
    data.mkdir()
    db = sqlite3.connect(data / "chats.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE turns (text TEXT)")
    db.executemany("INSERT INTO turns VALUES (?)", [("hola",), ("¿qué tal?",)])
    db.commit()  # committed, but only in chats.sqlite3-wal: a plain copy would miss it
    plain = tmp_path / "plain.sqlite3"
    shutil.copyfile(data / "chats.sqlite3", plain)
    assert sqlite3.connect(plain).execute(
        "SELECT name FROM sqlite_master WHERE name='turns'").fetchall() == []

    assert colab.snapshot(data, backup) == 1
    assert [p.name for p in backup.iterdir()] == ["chats.sqlite3"]  # one file, no -wal
    rows = sqlite3.connect(backup / "chats.sqlite3").execute("SELECT text FROM turns")
    assert [r[0] for r in rows] == ["hola", "¿qué tal?"]
    db.close()


def test_snapshot_and_restore_carry_a_real_library_to_a_new_session(tmp_path: Path) -> None:
    data, drive, fresh = tmp_path / "session1", tmp_path / "drive", tmp_path / "session2"
    doc = tmp_path / "faro.txt"
    doc.write_text("El faro de Punta Lagunaverde mide 47 metros y se construyó en 1911.\n")
    service = RagService(load_settings(data))
    assert service.ingest_file(doc).ok
    assert colab.snapshot(data, drive) > 0
    (data / "notes.txt").write_text("later")
    colab.snapshot(data, drive)
    (data / "notes.txt").unlink()
    colab.snapshot(data, drive)
    assert not (drive / "notes.txt").exists()  # deletions are mirrored

    assert colab.restore(drive, fresh) > 0
    restored = RagService(load_settings(fresh))
    assert restored.stats()[0] == 1
    top = restored.search("¿Cuánto mide el faro?", k=1)[0]
    assert top.file_name == "faro.txt" and "47 metros" in top.text
    # Never over existing data, and an empty data dir never wipes the backup.
    assert colab.restore(drive, fresh) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    before = sorted(p.name for p in drive.rglob("*"))
    colab.snapshot(empty, drive)
    assert sorted(p.name for p in drive.rglob("*")) == before
