"""The app's words in Spanish and English, error codes in the user's language, and safe
Markdown for text that comes from documents or the model.

No Streamlit here: pages look strings up with :func:`t` and turn engine errors into
messages with :func:`error_message`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from rag import i18n_models
from rag.errors import RagError
from rag.i18n_accounts import ACCOUNT_ERRORS, ACCOUNT_STRINGS
from rag.i18n_errors import ERRORS, WARNINGS_ES
from rag.i18n_settings import setting_issue_text
from rag.inert import WORD_JOINER, plain, plain_stream
from rag.llm import Hardware

T = TypeVar("T")

LANGUAGES = {"es": "Español", "en": "English"}
DEFAULT_LANGUAGE = "es"
STATE_KEY = "ui_lang"

S: dict[str, tuple[str, str]] = {  # key: (Spanish, English)
    # shell
    "app.title": ("Chat con tus documentos", "Chat with your documents"),
    "nav.chat": ("Chat", "Chat"),
    "nav.documents": ("Documentos", "Documents"),
    "nav.settings": ("Ajustes", "Settings"),
    "sidebar.language": ("Idioma", "Language"),
    "sidebar.model": ("Modelo", "Model"),
    "sidebar.server_model": ("el del servidor", "the server's"),
    "sidebar.offline": ("Sin conexión: ninguna llamada de red",
                        "Offline: no network calls"),
    "sidebar.expected": ("(al cargar)", "(when loaded)"),
    "error.unexpected": ("Algo salió mal. Vuelve a intentarlo; el detalle quedó en el "
                         "registro del servidor.",
                         "Something went wrong. Please try again; the details are in the "
                         "server log."),
    # chat
    "chat.caption": ("Pregunta en español o en inglés: las respuestas salen solo de tus "
                     "documentos, con sus fuentes.",
                     "Ask in Spanish or English: answers come only from your documents, "
                     "with their sources."),
    "chat.empty": ("Aún no hay documentos: súbelos o carga los ejemplos en «Documentos».",
                   "No documents yet: upload some or load the samples on “Documents”."),
    "chat.go_documents": ("Ir a Documentos", "Go to Documents"),
    "chat.welcome": ("Haz una pregunta sobre tu biblioteca ({documents}).",
                     "Ask a question about your library ({documents})."),
    "chat.input": ("Escribe tu pregunta…", "Type your question…"),
    "chat.filter": ("Buscar solo en", "Search only in"),
    "chat.filter_all": ("Todos los documentos", "All documents"),
    "chat.answer_language": ("Idioma de la respuesta", "Answer language"),
    "chat.answer_language_help": ("«Auto» responde en el idioma de la pregunta.",
                                  "“Auto” answers in the language of the question."),
    "chat.summarize": ("Resumir", "Summarize"),
    "chat.summarize_doc": ("Documento", "Document"),
    "chat.summarize_go": ("Resumir este documento", "Summarize this document"),
    "chat.summary_request": ("Resume «{name}»", "Summarize “{name}”"),
    "chat.summarizing": ("Resumiendo «{name}»…", "Summarizing “{name}”…"),
    "chat.summary_parts": ("Partes resumidas: {done} de {total}",
                           "Parts summarized: {done} of {total}"),
    "chat.summary_done": ("Resumen de «{name}»", "Summary of “{name}”"),
    "chat.searching": ("Buscando en tus documentos…", "Searching your documents…"),
    "chat.sources": ("Fuentes", "Sources"),
    "chat.passage_removed": ("El documento se eliminó o se reemplazó: su pasaje ya no se "
                             "guarda.", "The document was deleted or replaced: its passage "
                             "is no longer kept."),
    "chat.passages": ("Ver los pasajes ({count})", "Show the passages ({count})"),
    "chat.page": ("pág. {page}", "p. {page}"),
    "chat.score": ("similitud {score}", "similarity {score}"),
    "chat.no_sources": ("Ningún pasaje coincide con la búsqueda.",
                        "No passage matched the search."),
    "chat.query": ("Consulta buscada", "Query searched"),
    "chat.query_help": ("La pregunta tal como se buscó en los documentos. Edítala y vuelve "
                        "a buscar.",
                        "The question as it was searched in the documents. Edit it and "
                        "search again."),
    "chat.rerun": ("Buscar de nuevo", "Search again"),
    "chat.timings": ("búsqueda {retrieve} ms · primer token {first} s · {speed} tok/s",
                     "retrieval {retrieve} ms · first token {first} s · {speed} tok/s"),
    "chat.timings_summary": ("primer token {first} s · {speed} tok/s",
                             "first token {first} s · {speed} tok/s"),
    "chat.conversations": ("Conversaciones", "Conversations"),
    "chat.new": ("Nueva conversación", "New chat"),
    "chat.none_saved": ("Aún no hay conversaciones guardadas.", "No saved chats yet."),
    "chat.delete": ("Borrar esta conversación", "Delete this chat"),
    "chat.untitled": ("Conversación sin título", "Untitled chat"),
    # documents
    "docs.title": ("Documentos", "Documents"),
    "docs.caption": ("Sube PDF, Word (.docx), texto o Markdown. Todo se procesa en este "
                     "equipo.",
                     "Upload PDF, Word (.docx), text or Markdown files. Everything is "
                     "processed on this machine."),
    "docs.upload": ("Añadir archivos", "Add files"),
    "docs.ingest": ("Añadir a la biblioteca", "Add to the library"),
    "docs.ingest_n": ("Añadir {files} a la biblioteca", "Add {files} to the library"),
    "docs.samples": ("Cargar documentos de ejemplo", "Load sample documents"),
    "docs.samples_help": ("Cuatro artículos de Wikipedia en español (XQuAD, CC BY-SA 4.0).",
                          "Four Spanish Wikipedia articles (XQuAD, CC BY-SA 4.0)."),
    "docs.empty": ("Aún no hay documentos: sube archivos o carga los ejemplos.",
                   "No documents yet: upload files or load the samples."),
    "docs.library": ("Biblioteca", "Library"),
    "docs.report": ("Resultado", "Result"),
    "docs.clear_report": ("Ocultar", "Dismiss"),
    "stage.parse": ("Leyendo el texto", "Reading the text"),
    "stage.ocr": ("Reconociendo texto (OCR) {done}/{total} páginas",
                  "Reading scanned pages (OCR) {done}/{total}"),
    "stage.chunk": ("Dividiendo en fragmentos", "Splitting into chunks"),
    "stage.embed": ("Calculando vectores {done}/{total}", "Embedding {done}/{total}"),
    "stage.index": ("Guardando en el índice", "Saving to the index"),
    "stage.done": ("Listo", "Done"),
    "stage.eta": ("quedan ~{seconds} s", "~{seconds} s left"),
    "stage.waiting": ("En espera", "Waiting"),
    "status.added": ("añadido", "added"),
    "status.replaced": ("reemplazado", "replaced"),
    "status.skipped": ("omitido (duplicado)", "skipped (duplicate)"),
    "status.failed": ("error", "failed"),
    "col.name": ("Documento", "Document"),
    "col.kind": ("Tipo", "Type"),
    "col.pages": ("Páginas", "Pages"),
    "col.chunks": ("Fragmentos", "Chunks"),
    "col.characters": ("Caracteres", "Characters"),
    "col.added": ("Añadido", "Added"),
    "col.added_help": ("Fecha en UTC", "Date in UTC"),
    "col.warnings": ("Avisos", "Warnings"),
    "docs.manage": ("Eliminar o re-indexar", "Delete or re-index"),
    "docs.delete_pick": ("Documentos a eliminar", "Documents to delete"),
    "docs.delete": ("Eliminar", "Delete"),
    "docs.deleted": ("Eliminado: {names}", "Deleted: {names}"),
    "docs.reindex": ("Re-indexar la biblioteca", "Re-index the library"),
    "docs.reindex_help": ("Vuelve a fragmentar y vectorizar todo desde los originales "
                          "guardados (tras cambiar el tamaño de fragmento).",
                          "Re-chunk and re-embed everything from the stored originals "
                          "(after changing the chunk size)."),
    "docs.reindexing": ("Re-indexando…", "Re-indexing…"),
    # settings
    "set.title": ("Ajustes", "Settings"),
    "set.caption": ("Se guardan en {path}, en la carpeta de datos, y se mantienen al "
                    "reiniciar.",
                    "Saved to {path} in the data folder; they persist across restarts."),
    "set.model": ("Modelo de lenguaje", "Language model"),
    "set.model_help": ("Cualquier archivo .gguf de la carpeta models/, además del modelo "
                       "incluido.", "Any .gguf file in the models/ folder, plus the "
                       "bundled model."),
    "set.default": ("incluido", "bundled"),
    "set.n_ctx": ("Contexto (tokens)", "Context size (tokens)"),
    "set.temperature": ("Temperatura", "Temperature"),
    "set.top_k": ("Pasajes por pregunta (top-k)", "Passages per question (top-k)"),
    "set.chunk_tokens": ("Tamaño de fragmento (tokens)", "Chunk size (tokens)"),
    "set.chunk_help": ("Cambiarlo obliga a re-indexar la biblioteca.",
                       "Changing it requires re-indexing the library."),
    "set.gpu_layers": ("Capas en la GPU", "GPU layers"),
    "set.gpu_help": ("-1: todas; 0: solo CPU.", "-1: all of them; 0: CPU only."),
    "set.save": ("Guardar", "Save"),
    "set.saved": ("Ajustes guardados.", "Settings saved."),
    "set.unchanged": ("No hay cambios.", "Nothing changed."),
    "set.reindex_needed": ("El tamaño de fragmento cambió: re-indexa la biblioteca para "
                           "aplicarlo a los documentos que ya tienes.",
                           "The chunk size changed: re-index the library to apply it to "
                           "the documents you already have."),
    "set.reindex_now": ("Re-indexar ahora", "Re-index now"),
    "set.hardware": ("Hardware detectado", "Detected hardware"),
    "set.runs_on": ("El modelo se ejecuta en", "The model runs on"),
    "set.gpu_support": ("GPU en llama.cpp", "GPU in llama.cpp"),
    "set.cpu_threads": ("Hilos de CPU", "CPU threads"),
    "set.yes": ("sí", "yes"),
    "set.no": ("no", "no"),
    "set.models_found": ("Disponibles: {models}", "Available: {models}"),
    "set.issues": ("Algunos ajustes no se aplicaron:", "Some settings were not applied:"),
}

UNITS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {  # (es one/many, en one/many)
    "document": (("documento", "documentos"), ("document", "documents")),
    "chunk": (("fragmento", "fragmentos"), ("chunk", "chunks")),
    "page": (("página", "páginas"), ("page", "pages")),
    "character": (("carácter", "caracteres"), ("character", "characters")),
    "file": (("archivo", "archivos"), ("file", "files")),
    "model": (("modelo", "modelos"), ("model", "models")),
}

S.update(i18n_models.STRINGS)
PARAMS_ES = i18n_models.PARAMS_ES

def ui_language(state: Mapping[str, object]) -> str:
    """The UI language chosen in the session (``state`` is ``st.session_state``)."""
    lang = state.get(STATE_KEY)
    return lang if isinstance(lang, str) and lang in LANGUAGES else DEFAULT_LANGUAGE


def _pick(pair: tuple[T, T], lang: str) -> T:
    return pair[0] if lang == "es" else pair[1]


def t(key: str, lang: str, **params: object) -> str:
    """The UI string ``key`` in ``lang``, formatted with ``params``."""
    text = _pick(S[key], lang)
    return text.format(**params) if params else text


def count(unit: str, value: int, lang: str) -> str:
    """``value`` with its unit, singular or plural: "1 documento", "1.204 fragmentos"."""
    one, many = _pick(UNITS[unit], lang)
    return f"{number(value, lang)} {one if value == 1 else many}"


def error_text(code: str, message: str, lang: str, **params: object) -> str:
    """An engine error (by ``code`` and ``params``) in ``lang``, as inert Markdown: the
    parameters (file names, paths: values from documents and people) are escaped with
    :func:`plain`, and so is the English ``message`` (also available to a translation as
    ``{message}``) used when there is no translation or a parameter is missing."""
    if code not in ERRORS:
        return plain(message) if message else t("error.unexpected", lang)
    if lang == "es":
        params = {k: _rewrite(PARAMS_ES[k], v) if k in PARAMS_ES and isinstance(v, str) else v
                  for k, v in params.items()}
    try:
        values = {"message": plain(message), **{k: plain(str(v)) for k, v in params.items()}}
        return _pick(ERRORS[code], lang).format(**values)
    except (KeyError, IndexError):
        return plain(message) if message else t("error.unexpected", lang)


def error_message(error: BaseException, lang: str) -> str:
    """What to tell the user about ``error``: a translated engine error, else a generic
    message (the details belong in the log, not on screen)."""
    if isinstance(error, RagError):
        return error_text(error.code, error.message, lang, **error.params)
    return t("error.unexpected", lang)


def _rewrite(rules: list[tuple[re.Pattern[str], str]], text: str) -> str:
    """``text`` rewritten by the first rule whose pattern matches it, else unchanged."""
    for pattern, replacement in rules:
        if pattern.match(text):
            return pattern.sub(replacement, text)
    return text


def warning_text(warning: str, lang: str) -> str:
    return _rewrite(WARNINGS_ES, warning) if lang == "es" else warning


def hardware_text(hardware: Hardware, lang: str) -> str:
    """``Hardware.describe()`` in ``lang``."""
    if lang != "es":
        return hardware.describe()
    if hardware.server:
        return f"Servidor del modelo: {hardware.server}"
    if hardware.gpu and hardware.layers_offloaded:
        return f"GPU: {hardware.layers_offloaded}/{hardware.layers_total} capas en la GPU"
    return f"CPU, {hardware.threads} hilos"


def number(value: float, lang: str, decimals: int = 0) -> str:
    """``value`` with the language's thousands and decimal separators."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".") if lang == "es" else text


S.update(ACCOUNT_STRINGS)
ERRORS.update(ACCOUNT_ERRORS)

__all__ = ["WORD_JOINER", "plain", "plain_stream", "setting_issue_text"]
