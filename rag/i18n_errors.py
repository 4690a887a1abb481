"""Engine errors by code and engine warnings, in Spanish and English (used by
:func:`rag.i18n.error_text` and :func:`rag.i18n.warning_text`)."""

from __future__ import annotations

import re

from rag import i18n_models

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

ERRORS.update(i18n_models.ERRORS)

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
                r"\(language (\S+), mean confidence (\d+)%\)$"),
     r"sin capa de texto, leído con OCR (idioma \2, confianza media \3 %): página(s) \1"),
    (re.compile(r"^pages? (.*) (?:was|were) not read by OCR: at most (\d+) pages a document$"),
     r"no se leyó con OCR (como máximo \2 páginas por documento): página(s) \1"),
    (re.compile(r"^pages? (.*) (?:was|were) not read by OCR: at most (\S+) minutes of OCR a "
                r"document$"),
     r"no se leyó con OCR (como máximo \2 minutos de OCR por documento): página(s) \1"),
]
