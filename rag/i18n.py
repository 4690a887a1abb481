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

ERRORS: dict[str, tuple[str, str]] = {  # error code: (Spanish, English); {params}
    "unsupported": ("«{name}» no es un tipo de archivo admitido. Sube .pdf, .docx, .txt o .md.",
                    "“{name}” is not a supported file type. Upload .pdf, .docx, .txt or .md."),
    "empty": ("«{name}» está vacío.", "“{name}” is empty."),
    "encrypted": ("«{name}» está protegido con contraseña: quítala y vuelve a subirlo.",
                  "“{name}” is password-protected: remove the password and upload it again."),
    "corrupt": ("«{name}» está dañado y no se puede leer.",
                "“{name}” is damaged and cannot be read."),
    "too_large": ("«{name}» es demasiado grande para procesarlo.",
                  "“{name}” is too large to process."),
    "no_text": ("«{name}» no tiene texto (¿imágenes escaneadas?): no se hace OCR.",
                "“{name}” has no text (scanned images?): OCR is not supported."),
    "no_text_ocr": ("«{name}» no tiene capa de texto y el OCR no reconoció texto en sus "
                    "páginas (¿escaneo en blanco o ilegible?).",
                    "“{name}” has no text layer, and OCR found no text on its pages (blank or "
                    "unreadable scans?)."),
    "timeout": ("«{name}» tardó demasiado en procesarse.",
                "“{name}” took too long to process."),
    "unreadable": ("No se pudo leer «{name}».", "“{name}” could not be read."),
    "not_found": ("No hay ningún documento «{name}» en la biblioteca.",
                  "There is no document “{name}” in the library."),
    "invalid_name": ("«{name}» no es un nombre válido.", "“{name}” is not a valid name."),
    "invisible_name": ("El nombre «{name}» no tiene ningún carácter visible: cambia el nombre "
                       "del archivo y vuelve a subirlo.",
                       "The name “{name}” has no visible characters: rename the file and "
                       "upload it again."),
    "encoding": ("«{name}» no está en UTF-8 y no se pudo reconocer su codificación: guárdalo "
                 "como UTF-8 y vuelve a subirlo.",
                 "“{name}” is not UTF-8 and its encoding could not be recognized: save it as "
                 "UTF-8 and upload it again."),
    "xfa_form": ("«{name}» es un formulario XFA (Adobe LiveCycle): su contenido no es texto de "
                 "página. Ábrelo en Adobe Reader, imprímelo como PDF y sube ese archivo.",
                 "“{name}” is an XFA form (Adobe LiveCycle): its content is not page text. "
                 "Open it in Adobe Reader, print it to a PDF and upload that."),
    "embedder_mismatch": ("La biblioteca se indexó con otro modelo de vectores ({stored}). "
                          "Re-indexa la biblioteca en «Documentos».",
                          "The library was indexed with another embedding model ({stored}). "
                          "Re-index it on “Documents”."),
    "model_not_found": ("No se encuentra el modelo: {path}. Elige otro en «Ajustes».",
                        "Model file not found: {path}. Pick another one on “Settings”."),
    "model_load": ("No se pudo cargar el modelo {model}. Elige otro en «Ajustes».",
                   "Could not load the model {model}. Pick another one on “Settings”."),
    "generation": ("El modelo no pudo responder. Inténtalo de nuevo.",
                   "The model could not answer. Please try again."),
    "context_overflow": ("La pregunta no cabe en la ventana del modelo ({n_ctx} tokens): "
                         "acórtala.",
                         "The question does not fit the model's window ({n_ctx} tokens): "
                         "shorten it."),
    "question_too_long": ("La pregunta es demasiado larga ({length} caracteres); el máximo es "
                          "{limit}.",
                          "The question is too long ({length} characters); the limit is "
                          "{limit}."),
    "store_unavailable": ("No se puede conectar con la base de datos ({where}). Comprueba que "
                          "esté en marcha y vuelve a intentarlo.",
                          "The database ({where}) cannot be reached. Check that it is running "
                          "and try again."),
    "model_server": ("El servidor del modelo ({server}) no responde: {reason}. Comprueba que "
                     "esté en marcha y vuelve a intentarlo.",
                     "The model server ({server}) is not answering: {reason}. Check that it "
                     "is running and try again."),
}

S.update(i18n_models.STRINGS)
ERRORS.update(i18n_models.ERRORS)
PARAMS_ES = i18n_models.PARAMS_ES

# Engine warnings are English sentences; the common ones get a Spanish rendering.
WARNINGS_ES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^page (\d+) has no text \(scanned\?\)$"),
     r"la página \1 no tiene texto (¿escaneada?)"),
    (re.compile(r"^(\d+) pages have no text \(scanned\?\): pages (.*)$"),
     r"\1 páginas no tienen texto (¿escaneadas?): \2"),
    (re.compile(r"^page (\d+) could not be read$"), r"no se pudo leer la página \1"),
    (re.compile(r"^page (\d+) was read with a fallback extractor$"),
     r"la página \1 se leyó con un extractor alternativo"),
    (re.compile(r"^same content as '(.*)', already in the library$"),
     r"mismo contenido que «\1», que ya está en la biblioteca"),
    (re.compile(r"^unchanged, already in the library$"), "sin cambios: ya está en la biblioteca"),
    (re.compile(r"^another file in this batch is also named '(.*)': this one is stored as "
                r"'(.*)'$"),
     r"otro archivo de esta subida también se llama «\1»: este se guarda como «\2»"),
    (re.compile(r"^a different document named '(.*)' is already in the library: this one is "
                r"stored as '(.*)'$"),
     r"ya hay otro documento llamado «\1» en la biblioteca: este se guarda como «\2»"),
    (re.compile(r"^not UTF-8: decoded as UTF-8 with (\d+) invalid byte\(s\) replaced$"),
     r"UTF-8 con \1 byte(s) no válido(s), reemplazado(s) por �"),
    (re.compile(r"^not UTF-8: decoded as (\S+) \(no BOM\)$"),
     r"no es UTF-8: se leyó como \1 (sin BOM)"),
    (re.compile(r"^not UTF-8: decoded as (.*)$"), r"no es UTF-8: se leyó como \1"),
    (re.compile(r"^named (\S+) but its content is a PDF: read as such$"),
     r"se llama \1 pero es un PDF: se leyó como tal"),
    (re.compile(r"^named (\S+) but its content is a Word document \(\.docx\): read as such$"),
     r"se llama \1 pero es un documento de Word (.docx): se leyó como tal"),
    (re.compile(r"^named (\S+) but its content is plain text: read as such$"),
     r"se llama \1 pero es texto sin formato: se leyó como tal"),
    (re.compile(r"^a macro-enabled Word document: its macros were ignored$"),
     "documento de Word con macros: las macros se ignoraron"),
    (re.compile(r"^the PDF is damaged: .*$"),
     "el PDF está dañado: su texto se leyó con un lector alternativo"),
    (re.compile(r"^the PDF was damaged and has been repaired: .*$"),
     "el PDF estaba dañado y se reparó: puede faltar texto"),
    (re.compile(r"^pages? (.*) had no text layer and (?:was|were) read by OCR "
                r"\(mean confidence (\d+)%\)$"),
     r"sin capa de texto, leído con OCR (confianza media \2 %): página(s) \1"),
]


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
