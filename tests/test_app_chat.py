"""The chat page under AppTest with fake models: asking, sources, the searched query,
filters, answer language, summaries, saved conversations and inert document content."""

from __future__ import annotations

import json
import re

import pytest

from rag import i18n

TESLA = ("# Tesla\n\nTesla murió en 1943 en Nueva York. Vivió sus últimos años en hoteles.\n\n"
         "Trabajó con corriente alterna en Pittsburgh.")
RIN = "# Rin\n\nEl Rin nace en los Alpes suizos. Desemboca en el mar del Norte."


def _texts(app) -> str:
    return "\n".join([m.value for m in app.markdown] + [c.value for c in app.caption])


@pytest.fixture
def library(service):
    service.ingest_bytes("tesla.md", TESLA.encode())
    service.ingest_bytes("rin.md", RIN.encode())
    return service


def _ask(app, question: str):
    app.chat_input(key="chat_prompt").set_value(question).run()
    assert not app.exception, app.exception
    return app


def test_empty_library_shows_the_way_to_documents(app) -> None:
    app.run()
    assert "Aún no hay documentos" in app.info[0].value
    assert app.chat_input(key="chat_prompt").disabled


def test_answer_is_streamed_with_sources_query_and_timings(app, library, fake_llm) -> None:
    app.run()
    _ask(app, "¿Cuándo murió Tesla?")
    texts = _texts(app)
    assert "Según \\[1\\]\\: Tesla murió en 1943 en Nueva York\\." in texts
    assert "**Fuentes:** [1] tesla\\.md" in texts
    # the passage, escaped, with the sentence the answer used in bold
    assert "**Tesla murió en 1943 en Nueva York\\.** Vivió sus últimos años en hoteles\\." \
        in texts
    assert app.text_input[0].value == "¿Cuándo murió Tesla?"  # the query searched
    assert any("primer token" in c.value and "tok/s" in c.value for c in app.caption)
    assert len(fake_llm.calls) == 1


def test_the_searched_query_can_be_edited_and_rerun(app, library, fake_llm) -> None:
    app.run()
    _ask(app, "¿Cuándo murió Tesla?")
    query = app.text_input[0]
    query.input("Rin Alpes desemboca")
    app.button(key=f"rerun_{query.key}").click().run()
    assert not app.exception
    texts = _texts(app)
    assert "[1] rin\\.md" in texts  # the answer now comes from the edited query
    assert app.text_input[0].value == "Rin Alpes desemboca"
    chat = app.session_state["chat"]
    assert len(chat["turns"]) == 2 and chat["turns"][1]["query"] == "Rin Alpes desemboca"


def test_document_filter_limits_the_sources(app, library, fake_llm) -> None:
    app.run()
    app.multiselect(key="chat_filter").set_value(["rin.md"]).run()
    _ask(app, "¿Cuándo murió Tesla?")
    sources = app.session_state["chat"]["turns"][1]["sources"]
    assert sources and {s["file"] for s in sources} == {"rin.md"}
    assert "tesla.md" not in fake_llm.calls[-1][-1]["content"]


def test_answer_language_can_be_forced(app, library, fake_llm) -> None:
    app.run()
    app.selectbox(key="answer_lang").set_value("en").run()
    _ask(app, "¿Cuándo murió Tesla?")
    assert "Answer in English" in fake_llm.calls[-1][-1]["content"]  # the question's turn
    assert app.session_state["chat"]["turns"][1]["language"] == "en"


def test_follow_up_questions_carry_the_history(app, library, fake_llm) -> None:
    app.run()
    _ask(app, "¿Cuándo murió Tesla?")
    _ask(app, "¿Y dónde?")
    # condense (history -> standalone query) then answer with the history
    assert len(fake_llm.calls) == 3
    assert any("¿Cuándo murió Tesla?" in m["content"] for m in fake_llm.calls[-1])


def test_summarize_a_document(app, library) -> None:
    app.run()
    app.selectbox(key="summary_doc").set_value("rin.md").run()
    app.button(key="summarize").click().run()
    assert not app.exception
    turns = app.session_state["chat"]["turns"]
    assert turns[0]["content"] == "Resume «rin.md»"
    assert turns[1]["kind"] == "summary"
    assert turns[1]["content"].startswith("Resumen: ")
    assert "Resumen\\: " in _texts(app)  # shown after the rerun that saves it


def test_conversations_are_saved_listed_and_reopened(app, library, data_dir) -> None:
    app.run()
    _ask(app, "¿Cuándo murió Tesla?")
    chat_id = app.session_state["chat"]["id"]
    saved = data_dir / "chats" / "default" / f"{chat_id}.json"
    stored = json.loads(saved.read_text(encoding="utf-8"))
    assert stored["title"] == "¿Cuándo murió Tesla?" and len(stored["turns"]) == 2

    app.button(key="new_chat").click().run()
    assert app.session_state["chat"]["turns"] == []
    assert not [m for m in app.chat_message if m.name == "user"]

    app.button(key=f"open_{chat_id}").click().run()
    assert app.session_state["chat"]["id"] == chat_id
    assert "¿Cuándo murió Tesla\\?" in _texts(app)

    app.button(key="delete_chat").click().run()
    assert not saved.exists()


def test_document_content_renders_inert(app, service) -> None:
    hostile = ("Dato clave: el tesoro está en Lima. ![x](http://evil.example/t.png) "
               "<img src=x onerror=alert(1)> [clic](javascript:alert(1)) :red[rojo] $x^2$")
    service.ingest_bytes("hostil.txt", hostile.encode())
    app.run()
    _ask(app, "¿Dónde está el tesoro?")
    shown = [e for e in [*app.markdown, *app.caption] if "Dato clave" in e.value]
    assert len(shown) >= 2  # the answer (which quotes it) and the passage
    for element in shown:
        body = element.value[element.value.index("Dato clave"):].replace("**", "")
        assert not re.findall(r"(?<!\\)[\[\]()<>!$:]", body), body  # all escaped
        assert getattr(element.proto, "allow_html", False) is False
    texts = _texts(app)
    assert i18n.plain("![x](http://evil.example/t.png)") in texts
    assert "http\\:" not in texts  # no bare URL left to autolink


def test_citations_name_the_section(app, service, fake_llm) -> None:
    """A PDF passage is cited with its page and its section (the heading path's last)."""
    from tests.pdf_factory import make_pdf

    pdf = make_pdf(["Guía breve del empaquetado.",
                    "2.2 Elige el programa\n\nProbablemente hayas escogido ya el paquete que\n"
                    "deseas construir para Debian. Lo primero es comprobar\nsi el paquete ya "
                    "está en el archivo de la distribución."])
    assert service.ingest_bytes("guia.pdf", pdf).status == "added"
    app.run()
    _ask(app, "¿Qué paquete deseas construir para Debian?")
    assert "**Fuentes:** [1] guia\\.pdf, pág. 2 · 2\\.2 Elige el programa" in _texts(app)


def test_a_deleted_documents_passages_leave_the_saved_chat(app, library, data_dir) -> None:
    app.run()
    _ask(app, "¿Cuándo murió Tesla?")
    chat_id = app.session_state["chat"]["id"]
    library.delete_document("tesla.md")
    app.button(key="new_chat").click().run()
    app.button(key=f"open_{chat_id}").click().run()
    assert not app.exception, app.exception
    assert "El documento se eliminó o se reemplazó" in _texts(app)
    saved = json.loads((data_dir / "chats" / "default" / f"{chat_id}.json").read_text(
        encoding="utf-8"))
    tesla = [s for s in saved["turns"][1]["sources"] if s["file"] == "tesla.md"]
    assert tesla and all(s["removed"] and s["text"] == "" for s in tesla)
