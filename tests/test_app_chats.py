"""rag.chats: saved conversations as plain JSON, and the sentences that support an answer."""

from __future__ import annotations

import json

import pytest

from rag import chats
from rag.errors import InvalidNameError
from rag.schema import Answer, Source, Timings


def _answer() -> Answer:
    source = Source(file_name="a.pdf", page=2, heading="", text="Tesla murió en 1943.",
                    score=0.5, rank=1)
    return Answer(text="Murió en 1943 [1].", query="¿Cuándo murió Tesla?", sources=[source],
                  language="es", timings=Timings(retrieve_ms=3.0, total_ms=10.0))


def test_save_list_load_delete(tmp_path) -> None:
    store = chats.ChatStore(tmp_path, "default")
    chat = store.new_chat()
    chat["turns"] += [{"role": "user", "content": "¿Cuándo murió Tesla?"},
                      chats.answer_turn(_answer())]
    store.save(chat)
    path = tmp_path / "chats" / "default" / f"{chat['id']}.json"
    stored = json.loads(path.read_text(encoding="utf-8"))  # plain JSON
    assert stored["title"] == "¿Cuándo murió Tesla?"
    assert stored["turns"][1]["sources"][0] == {"file": "a.pdf", "page": 2, "heading": "",
                                                "text": "Tesla murió en 1943.", "score": 0.5,
                                                "rank": 1}
    assert [c["id"] for c in store.list()] == [chat["id"]]
    assert store.list()[0]["size"] == 1
    assert store.load(chat["id"]) == stored
    assert not list(path.parent.glob(".*.tmp"))  # atomic write left nothing behind
    store.delete(chat["id"])
    assert store.list() == [] and store.load(chat["id"]) is None


def test_damaged_or_foreign_files_are_skipped(tmp_path) -> None:
    store = chats.ChatStore(tmp_path, "default")
    store.root.mkdir(parents=True)
    (store.root / "20250101-000000-abcdef.json").write_text("{not json", encoding="utf-8")
    (store.root / "20250101-000001-abcdef.json").write_text("[1, 2]", encoding="utf-8")
    (store.root / "notes.json").write_text("{}", encoding="utf-8")
    assert store.list() == []


def test_ids_and_library_names_cannot_escape_the_folder(tmp_path) -> None:
    store = chats.ChatStore(tmp_path, "default")
    assert store.load("../../settings") is None
    with pytest.raises(ValueError):
        store.delete("../../settings")
    with pytest.raises(ValueError):
        store.save({"id": "../x", "title": "t", "turns": []})
    with pytest.raises(InvalidNameError):
        chats.ChatStore(tmp_path, "../other")


def test_history_and_titles() -> None:
    turns = [{"role": "user", "content": "hola"}, chats.answer_turn(_answer())]
    assert [(t.role, t.content) for t in chats.history(turns)] == [
        ("user", "hola"), ("assistant", "Murió en 1943 [1].")]
    assert chats.title_of("  una   pregunta  ") == "una pregunta"
    assert len(chats.title_of("x" * 200)) == chats.TITLE_CHARS


def test_supporting_sentences() -> None:
    passage = ("El faro mide 47 metros de altura. Fue construido en 1911.\n\n"
               "La cooperativa cuida la costa.")
    marked = chats.supporting_sentences(passage, "El faro tiene 47 metros de altura [1].")
    assert marked == [[("El faro mide 47 metros de altura.", True),
                       ("Fue construido en 1911.", False)],
                      [("La cooperativa cuida la costa.", False)]]
    assert not any(s for para in chats.supporting_sentences(passage, "No lo sé.")
                   for _, s in para)


def test_forgetting_a_document_keeps_the_citation_without_its_passage(tmp_path) -> None:
    store = chats.ChatStore(tmp_path, "default")
    chat = store.new_chat()
    turn = chats.answer_turn(_answer())
    turn["evidence"] = [{"text": "Tesla murió en 1943.", "file": "a.pdf", "page": 2, "rank": 1}]
    chat["turns"] += [{"role": "user", "content": "¿Cuándo murió Tesla?"}, turn]
    store.save(chat)
    updated = store.load(chat["id"])["updated"]
    assert store.forget_document("otro.pdf") == 0
    assert store.forget_document("a.pdf") == 1
    saved = store.load(chat["id"])
    assert saved["turns"][1]["sources"][0] == {"file": "a.pdf", "page": 2, "heading": "",
                                               "text": "", "score": 0.5, "rank": 1,
                                               "removed": True}
    assert saved["turns"][1]["evidence"] == [] and saved["updated"] == updated
    assert "1943." not in (store.root / f"{chat['id']}.json").read_text(encoding="utf-8")
