"""The answer path's small checks on plain inputs: the markup filter (also mid-stream),
grounding of answer sentences in passages, the supporting evidence, and the follow-up
rewrite's topic check."""

from __future__ import annotations

import pytest

from rag import followups, grounding, markup
from rag.schema import Source, Turn


def filtered(pieces: list[str]) -> str:
    return "".join(markup.filter_stream(pieces))


@pytest.mark.parametrize("pieces, expected", [
    (["La red se ", "configura en /etc/network/interfaces.", "\n</doc", "ument>"],
     "La red se configura en /etc/network/interfaces."),
    (["Respuesta", " <|im", "_end|>", "<|im_start|>user"], "Respuesta"),
    (["Texto. [/INST] más"], "Texto."),
    (["Sí.\nPregunta", ": ¿y otra?"], "Sí."),
    (["Bien.\nuser: ", "hola"], "Bien."),
    (['<document id="4" file="debian.pdf" page="3">', "\nTexto copiado"], "Texto copiado"),
    (['<document id="4" file="d.pdf">Texto</document> eco'], "Texto"),
    (["Uno ‹/document> dos"], "Uno"),
    (["Fin</s>"], "Fin"),
    (["<</SYS>>", "hola"], "hola"),
    (["Hola <</SYS>>", "eco"], "Hola"),
])
def test_markup_is_cut_even_when_split_across_pieces(pieces, expected) -> None:
    assert filtered(pieces) == expected
    assert filtered(list("".join(pieces))) == expected  # one character at a time


@pytest.mark.parametrize("text", [
    "Según [1], el río mide 200 km [2].",
    "Si a < b y c > d, entonces a + c < b + d.",
    "La respuesta a esta pregunta: depende del modelo.",
    "Lista:\n- uno\n- dos\n[nota] fin",
    "El archivo <config> se lee al inicio.",
])
def test_ordinary_text_passes_unchanged(text) -> None:
    assert filtered([text]) == text
    assert filtered(list(text)) == text


def test_filter_streams_without_waiting_for_the_end() -> None:
    produced = []

    def pieces():
        for word in ["Primera ", "frase ", "larga ", "sin ", "marcas ", "y ", "más."]:
            produced.append(word)
            yield word

    stream = markup.filter_stream(pieces())
    first = next(stream)
    assert first.startswith("Primera") and len(produced) <= 2


def test_filter_closes_the_model_stream_at_a_marker() -> None:
    closed = []

    def pieces():
        try:
            yield from ["Hola. ", "</document>", "eco ", "eco "]
        finally:
            closed.append(True)

    assert filtered(pieces()) == "Hola."
    assert closed == [True]


def test_every_stop_sequence_is_caught_by_the_filter() -> None:
    for stop in markup.STOP_SEQUENCES:
        assert markup.find_marker("texto " + stop + " x", at_line_start=False) >= 0, stop


SOURCES = [
    Source("oxigeno.md", None, "", "El oxígeno es un elemento químico de número atómico 8. "
           "Fue descubierto por Carl Wilhelm Scheele en 1771.", 0.8, 1),
    Source("rio.md", 2, "", "El río Rin nace en los Alpes suizos y desemboca en el mar del "
           "Norte. Tiene una longitud de 1233 kilómetros.", 0.6, 2),
]


def test_grounding_counts_supported_sentences_and_lists_the_others() -> None:
    answer = ("El oxígeno tiene número atómico 8 [1]. Lo descubrió Scheele en 1771. "
              "El oxígeno fue inventado por Napoleón durante la guerra de Crimea.")
    result = grounding.check(answer, SOURCES)
    assert result.supported == pytest.approx(2 / 3, abs=0.01)
    assert result.unsupported == [
        "El oxígeno fue inventado por Napoleón durante la guerra de Crimea."]
    assert result.sentences[0].source_rank == 1
    assert not result.grounded
    assert result.as_json() == {"supported": 0.667, "unsupported": result.unsupported}


def test_grounding_of_an_english_answer_and_of_the_abstention() -> None:
    english = [Source("a.md", None, "", "The Rhine is 1,233 kilometres long and flows into "
                      "the North Sea.", 0.5, 1)]
    assert grounding.check("The Rhine flows into the North Sea.", english).supported == 1.0
    abstention = "No encuentro esa información en los documentos."
    assert grounding.check(abstention, SOURCES, abstention).supported == 1.0
    assert grounding.check("Sí.", SOURCES).supported == 0.0  # nothing checkable


def test_evidence_quotes_the_passage_sentences_matching_the_question() -> None:
    found = grounding.evidence("¿Cuántos kilómetros de longitud tiene el Rin?", SOURCES)
    assert found[0].text == "Tiene una longitud de 1233 kilómetros."
    assert found[0].source.citation == "rio.md, p. 2"
    assert grounding.evidence("¿?", SOURCES) == []


HISTORY = [Turn("user", "¿Cómo se configura la red en Debian?"),
           Turn("assistant", "Se edita /etc/network/interfaces y se reinicia el servicio.")]


def test_follow_up_rewrite_on_topic_is_kept() -> None:
    rewrite = "¿Cómo se configura la red en Debian con NetworkManager?"
    assert followups.choose_query(rewrite, "¿Y con NetworkManager?", HISTORY) == rewrite


@pytest.mark.parametrize("rewrite", [
    "La infraestructura de red es un lado más importante de la vida moderna.",  # off topic
    "¿Cómo se configura la red en Debian?",  # lost the question's new word
    "ok",
    "",
])
def test_follow_up_rewrite_off_topic_falls_back(rewrite) -> None:
    assert followups.choose_query(rewrite, "¿Y con NetworkManager?", HISTORY) == (
        "¿Cómo se configura la red en Debian? ¿Y con NetworkManager?")


def test_follow_up_uses_embedding_similarity_when_words_differ() -> None:
    rewrite = "¿Qué precio tiene el plan premium anual?"
    history = [Turn("user", "Háblame del plan premium anual.")]
    assert followups.on_topic(rewrite, "¿Cuánto vale?", history) is False
    assert followups.on_topic(rewrite, "¿Cuánto vale?", history,
                              similarity=lambda a, b: 0.8) is False  # "vale" lost
    assert followups.on_topic("¿Cuánto vale el plan premium anual?", "¿Cuánto vale?",
                              history, similarity=lambda a, b: 0.1) is True


def words(text: str) -> int:
    return len(text.split())


def test_passage_focus_keeps_the_sentences_about_the_question() -> None:
    from rag.passages import focus

    text = ("El Rin es un río de Europa. Atraviesa seis países. Su caudal medio es de 2900 "
            "metros cúbicos por segundo. Tiene una longitud de 1233 kilómetros. Es navegable "
            "desde Basilea.")
    assert focus(text, "¿Qué longitud tiene?", 100, words) == text  # fits: unchanged
    short = focus(text, "¿Qué longitud tiene el Rin en kilómetros?", 17, words)
    assert "1233 kilómetros" in short and words(short) <= 18
    assert short.startswith("El Rin es un río") and " … " in short  # order kept, gap marked
    cut = focus("palabra " * 300, "palabra", 10, words)
    assert cut.endswith("…") and len(cut) <= 45


def test_language_guard_retries_once_with_a_firmer_instruction() -> None:
    from rag.answer_language import LanguageOutcome, firmer_messages, guard_language

    closed = []

    def english():
        try:
            yield from ["The river ", "is 1233 ", "kilometres long ", "and flows ", "north."]
        finally:
            closed.append("first")

    outcome = LanguageOutcome("es")
    spanish = ["El río ", "mide 1233 ", "kilómetros ", "y va ", "hacia el norte."]
    text = "".join(guard_language(english(), "es", lambda: iter(spanish), outcome))
    assert text == "".join(spanish)
    assert (outcome.attempts, outcome.ok, closed) == (2, True, ["first"])

    outcome = LanguageOutcome("es")
    text = "".join(guard_language(english(), "es", english, outcome))
    assert text.startswith("The river") and (outcome.attempts, outcome.ok) == (2, False)

    outcome = LanguageOutcome("es")
    assert "".join(guard_language(iter(["Sí."]), "es", english, outcome)) == "Sí."
    assert outcome.attempts == 1 and outcome.ok

    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    firmer = firmer_messages(messages, "es")
    assert firmer[0] == messages[0] and firmer[1]["content"].endswith("en español, aunque "
                                                                      "los documentos estén "
                                                                      "en otro idioma.")
    assert messages[1]["content"] == "Q"


def test_follow_up_rewrite_that_drops_the_new_word_falls_back() -> None:
    history = [Turn("user", "¿Cómo se configura la red en Debian?"),
               Turn("assistant", "Se edita /etc/network/interfaces.")]
    assert followups.choose_query("Se crea /etc/network/interfaces.", "¿Y con NetworkManager?",
                                  history) == ("¿Cómo se configura la red en Debian? "
                                               "¿Y con NetworkManager?")


def test_language_guard_lets_a_plainly_wanted_answer_through_after_a_few_words() -> None:
    from rag.answer_language import LanguageOutcome, guard_language

    produced: list[str] = []

    def answer(words: list[str]):
        for word in words:
            produced.append(word)
            yield word

    spanish = ["El ", "río ", "mide ", "1233 ", "kilómetros ", "y ", "va ", "hacia ", "el ",
               "norte."]
    stream = guard_language(answer(spanish), "es", lambda: iter(["x"]), LanguageOutcome("es"))
    assert next(stream) == "El " and len(produced) == 3  # not eight words later
    produced.clear()
    english = ["The ", "river ", "is ", "long ", "and ", "flows ", "north ", "to ", "the ",
               "sea."]
    stream = guard_language(answer(english), "es", lambda: iter(["El río."]),
                            LanguageOutcome("es"))
    assert "".join(stream) == "El río." and len(produced) == 9  # a wrong start is read on


def test_an_empty_or_all_echo_reply_says_so_and_is_not_trusted() -> None:
    from rag.answer_checks import assess, generate
    from rag.llm import LLM
    from rag.prompts import NO_ANSWER

    class EchoOnly(LLM):
        name, n_ctx = "echo", 2048

        def stream_chat(self, messages, max_tokens, temperature, stop=None):
            yield from ["  ", '<document id="1">', "</document>"]

        def count_tokens(self, text):
            return len(text.split())

    sources = [Source("aviso.md", None, "", "El servidor se reinicia los lunes.", 0.9, 1)]
    pieces, outcome = generate(EchoOnly(), [{"role": "user", "content": "?"}], "es", 64, 0.0)
    text = "".join(pieces)
    assert text == NO_ANSWER["es"]
    assessment = assess(text, "¿Cuándo se reinicia el servidor?", sources, "es", outcome.ok)
    assert not assessment.trusted and assessment.evidence  # the documents' own words shown


@pytest.mark.parametrize(("question", "alone"), [
    ("¿Qué hace la orden debuild?", True),
    ("¿Quién construyó el faro de Punta Lagunaverde?", True),
    ("What is the minimum key length for an OpenPGP key?", True),
    ("¿Y cada cuánto se cambia?", False),        # "y": carries on from the last turn
    ("¿Cómo puedo instalarlo en Debian?", False),  # a pronoun fused to the verb
    ("How do I install it?", False),
    ("¿Cuál es su altura?", False),
    ("¿Cuándo se construyó?", False),            # too few words to say what about
    ("Explain that in more detail", False)])
def test_which_questions_stand_alone(question, alone) -> None:
    assert followups.stands_alone(question) is alone
