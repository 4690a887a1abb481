"""Answers end where the model starts repeating a sentence; new text is never held."""

from __future__ import annotations

import pytest

from rag.repetition import stop_repeats


def _pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize(("text", "shown"), [
    ("Los socios eran Elite. Elite. Elite. Elité.", "Los socios eran Elite. Elite. "),
    ("El río mide 7.000 km. Nace en los Andes. El río mide 7.000 km. Y sigue.",
     "El río mide 7.000 km. Nace en los Andes. "),
    ("Primero.\nSegundo.\nprimero\nTercero.", "Primero.\nSegundo.\n"),
    ("El río es largo. El río es largo y ancho. Fin.",
     "El río es largo. El río es largo y ancho. Fin."),  # a longer sentence is new
    ("Sí. Sí", "Sí. "),  # a repeat at the very end, without its full stop
    ("Tesla. Tes", "Tesla. Tes"),  # the start of one is not a repeat
    ("1. Abre el menú.\n2. Abre el menú de red.\n10. Listo.",
     "1. Abre el menú.\n2. Abre el menú de red.\n10. Listo."),
])
def test_a_repeated_sentence_ends_the_answer(text: str, shown: str) -> None:
    for size in (1, 3, 1000):
        assert "".join(stop_repeats(_pieces(text, size))) == shown


def test_new_text_is_passed_on_at_once_and_the_stream_is_closed_at_a_repeat() -> None:
    produced: list[str] = []
    closed: list[bool] = []

    def model():
        try:
            for piece in ["Hola ", "mundo. ", "Otra ", "frase. ", "Hola ", "mundo. ", "más"]:
                produced.append(piece)
                yield piece
        finally:
            closed.append(True)

    stream = stop_repeats(model())
    assert next(stream) == "Hola " and produced == ["Hola "]  # nothing held back
    assert "".join(stream) == "mundo. Otra frase. "
    assert closed == [True] and produced[-1] == "mundo. "  # stopped at the repeat



@pytest.mark.slow
def test_the_real_model_looping_on_a_repetitive_notice_is_cut(tmp_path) -> None:
    """SmolLM2 without its repeat penalty copies a repeated line over and over; the person
    sees each sentence once."""
    from rag import markup, prompts
    from rag.grounding import split_sentences
    from rag.repetition import _key
    from rag.service import RagService
    from rag.settings import load_settings

    service = RagService(load_settings(tmp_path, max_tokens=96, repeat_penalty=1.0,
                                       temperature=0.0))
    notice = "# Aviso\n\n" + "El servidor se reinicia los lunes. " * 12 + "\n\nEstá en Madrid."
    assert service.ingest_bytes("aviso.md", notice.encode()).ok
    question = "¿Cuándo se reinicia el servidor?"
    stream = service.ask(question, language="es")
    shown = stream.result().text
    raw = service.llm.chat(prompts.answer_messages(question, stream.sources, [], "es"), 96,
                           0.0, stop=markup.STOP_SEQUENCES)
    raw_keys = [_key(s) for s in split_sentences(raw)]
    assert len(raw_keys) > len(set(raw_keys)) + 2, raw  # the model does loop here
    shown_keys = [_key(s) for s in split_sentences(shown)]
    assert shown_keys and len(shown_keys) == len(set(shown_keys)), shown
