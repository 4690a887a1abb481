"""Grounded answers in the chat page (AppTest, fake models): the grounding badge, the
unsupported sentences highlighted, "Lo que dicen tus documentos" above an answer that is
not grounded, and markup that never reaches the page."""

from __future__ import annotations

import pytest

TESLA = ("# Tesla\n\nTesla murió en 1943 en Nueva York. Vivió sus últimos años en hoteles.\n\n"
         "Trabajó con corriente alterna en Pittsburgh.")


@pytest.fixture
def library(service):
    service.ingest_bytes("tesla.md", TESLA.encode())
    return service


def _ask(app, question: str):
    app.run()
    app.chat_input(key="chat_prompt").set_value(question).run()
    assert not app.exception, app.exception
    return "\n".join([m.value for m in app.markdown] + [c.value for c in app.caption])


def test_grounded_answer_gets_a_full_badge_and_no_fallback(app, library) -> None:
    texts = _ask(app, "¿Cuándo murió Tesla?")
    assert "Respaldo 100 %" in texts
    assert "Lo que dicen tus documentos" not in texts
    assert "orange-background" not in texts


def test_invented_answer_shows_what_the_documents_say_first(app, library, fake_llm,
                                                            monkeypatch) -> None:
    invented = ("Tesla murió en 1943. Fue el primer presidente de Marte y fundó una "
                "cadena de panaderías espaciales.")
    monkeypatch.setattr(fake_llm, "reply", lambda messages: invented)
    texts = _ask(app, "¿Cuándo murió Tesla?")
    evidence = texts.index("Lo que dicen tus documentos")
    assert "> Tesla murió en 1943 en Nueva York\\.  \n> — [1] tesla\\.md" in texts
    assert texts.index("Respuesta del modelo, sin verificar") > evidence
    assert "Respaldo 50 %" in texts
    assert (":orange-background[Fue el primer presidente de Marte y fundó una cadena de "
            "panaderías espaciales\\.]") in texts
    assert "Resaltado: frases que los pasajes no respaldan." in texts


def test_prompt_markup_never_reaches_the_page(app, library, fake_llm, monkeypatch) -> None:
    monkeypatch.setattr(fake_llm, "reply", lambda messages: (
        'Tesla murió en 1943 en Nueva York. </document>\n<document id="2" file="x.pdf"> '
        "<|im_end|> [INST] más eco"))
    _ask(app, "¿Cuándo murió Tesla?")
    shown = [m.value for m in app.chat_message[1].markdown]
    assert "Tesla murió en 1943 en Nueva York\\." in shown  # the answer's own text, cut
    assert not any("x\\.pdf" in text or "im\\_end" in text or "INST" in text or "eco" in text
                   for text in shown)


def test_a_mostly_unsupported_answer_is_folded_under_the_evidence(app, library, fake_llm,
                                                                  monkeypatch) -> None:
    """Nothing of it in the documents: their own sentences are on screen, the red badge
    too, and the model's text waits in a closed expander."""
    invented = "Fue el primer presidente de Marte y fundó una cadena de panaderías espaciales."
    monkeypatch.setattr(fake_llm, "reply", lambda messages: invented)
    texts = _ask(app, "¿Cuándo murió Tesla?")
    assert "Lo que dicen tus documentos" in texts and "Respaldo 0 %" in texts
    assert "Respuesta del modelo, sin verificar" not in texts
    (folded,) = [e for e in app.chat_message[1].expander
                 if "Ver la respuesta del modelo" in e.label]
    assert not folded.proto.expanded
    assert any("panaderías espaciales" in m.value for m in folded.markdown)


def test_a_half_supported_answer_stays_on_screen(app, library, fake_llm, monkeypatch) -> None:
    monkeypatch.setattr(fake_llm, "reply", lambda messages: (
        "Tesla murió en 1943. Fue el primer presidente de Marte."))
    texts = _ask(app, "¿Cuándo murió Tesla?")
    assert "Respaldo 50 %" in texts and "Respuesta del modelo, sin verificar" in texts
    assert not [e for e in app.chat_message[1].expander
                if "Ver la respuesta del modelo" in e.label]
