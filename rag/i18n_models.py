"""The words of the model gallery and of grounded answers, in Spanish and English
(merged into :data:`rag.i18n.S` and :data:`rag.i18n.ERRORS`)."""

from __future__ import annotations

import re

STRINGS: dict[str, tuple[str, str]] = {
    "gal.title": ("Galería de modelos", "Model gallery"),
    "gal.caption": ("Descarga un modelo mejor desde Hugging Face (necesita conexión a "
                    "Internet). Velocidad estimada para esta máquina ({cores}, {memory} GB de "
                    "RAM); se guarda en {folder}.",
                    "Download a better model from Hugging Face (needs an Internet "
                    "connection). Speed estimated for this machine ({cores}, {memory} GB of "
                    "RAM); saved to {folder}."),
    "gal.cores": ("{n} núcleos", "{n} cores"),
    "gal.facts": ("{params} · {quant} · {size} GB · necesita {ram} GB de RAM · ~{speed} "
                  "tokens/s aquí · licencia: {licence}",
                  "{params} · {quant} · {size} GB · needs {ram} GB of RAM · ~{speed} "
                  "tokens/s here · licence: {licence}"),
    "gal.download": ("Descargar", "Download"),
    "gal.installed": ("Instalado", "Installed"),
    "gal.use": ("Usar este modelo", "Use this model"),
    "gal.in_use": ("En uso", "In use"),
    "gal.too_big": ("No cabe en la memoria de esta máquina.",
                    "Does not fit in this machine's memory."),
    "gal.custom": ("Otro modelo", "Another model"),
    "gal.custom_source": ("Hugging Face (propietario/repo/archivo.gguf) o URL",
                          "Hugging Face (owner/repo/file.gguf) or URL"),
    "gal.custom_sha": ("SHA-256 (opcional)", "SHA-256 (optional)"),
    "gal.custom_help": ("De Hugging Face se comprueba el SHA-256 publicado; de una URL, el "
                        "que escribas aquí.",
                        "From Hugging Face the published SHA-256 is checked; from a URL, the "
                        "one you enter here."),
    "gal.downloading": ("Descargando {name}: {done} de {total} MB",
                        "Downloading {name}: {done} of {total} MB"),
    "gal.connecting": ("Conectando para descargar {source}…", "Connecting to download {source}…"),
    "gal.done": ("Descargado: {name}. Elígelo arriba o pulsa «Usar este modelo».",
                 "Downloaded: {name}. Pick it above or press “Use this model”."),
    "gal.failed": ("La descarga de {name} falló: {error}",
                   "The download of {name} failed: {error}"),
    "gal.now_using": ("Modelo en uso: {name}.", "Model in use: {name}."),
    # grounded answers (chat)
    "chat.documents_say": ("Lo que dicen tus documentos", "What your documents say"),
    "chat.model_text": ("Respuesta del modelo, sin verificar:", "The model's answer, unverified:"),
    "chat.model_text_hidden": ("Ver la respuesta del modelo (los documentos no la respaldan)",
                               "Show the model's answer (the documents do not support it)"),
    "chat.grounding": ("Respaldo {share}", "Grounded {share}"),
    "chat.grounding_help": ("Parte de las frases de la respuesta que aparecen en los pasajes.",
                            "Share of the answer's sentences found in the passages."),
    "chat.unsupported_legend": ("Resaltado: frases que los pasajes no respaldan.",
                                "Highlighted: sentences the passages do not support."),
    "chat.wrong_language": ("El modelo no respondió en el idioma pedido.",
                            "The model did not answer in the language asked for."),
}

ERRORS: dict[str, tuple[str, str]] = {
    "download_failed": ("La descarga no se completó y no se guardó nada en la carpeta de "
                        "modelos. Detalle: {message}",
                        "The download did not complete and nothing was kept in the models "
                        "folder. Details: {message}"),
    "offline": ("Sin conexión: no se puede llegar a {host}. La galería necesita Internet; sin "
                "conexión, copia un archivo .gguf en la carpeta de modelos.",
                "No connection: {host} cannot be reached. The gallery needs the Internet; "
                "offline, copy a .gguf file into the models folder."),
    "checksum": ("El archivo descargado de {file} no coincide con su SHA-256: se descartó.",
                 "The downloaded {file} does not match its SHA-256: it was discarded."),
    "disk_space": ("No hay espacio en disco: hacen falta {needed_gb} GB y quedan {free_gb} GB.",
                   "Not enough disk space: {needed_gb} GB needed, {free_gb} GB free."),
    "invalid_source": ("«{source}» no es un modelo de Hugging Face (propietario/repo/"
                       "archivo.gguf) ni una URL http(s) de un .gguf.",
                       "“{source}” is neither a Hugging Face model (owner/repo/file.gguf) nor "
                       "an http(s) URL of a .gguf."),
}

# Error parameters in Spanish, by parameter name (applied by rag.i18n.error_text): the
# model server's failure reasons (rag.openai_llm), so that the Spanish "model_server"
# message does not carry an English reason. An HTTP status and the server's own words
# stay as they are.
PARAMS_ES: dict[str, list[tuple[re.Pattern[str], str]]] = {"reason": [
    (re.compile(r"^it lists no model \(GET /models\)$"), "no ofrece ningún modelo (GET /models)"),
    (re.compile(r"^it timed out$"), "no contestó a tiempo"),
    (re.compile(r"^it cannot be reached$"), "no se puede contactar"),
    (re.compile(r"^it stopped answering \(timed out\)$"), "dejó de contestar (tiempo agotado)"),
    (re.compile(r"^the connection broke during the answer$"),
     "la conexión se cortó durante la respuesta"),
    (re.compile(r"^it refused the API key \(HTTP (\d+)\)$"), r"rechazó la clave de API (HTTP \1)"),
]}
