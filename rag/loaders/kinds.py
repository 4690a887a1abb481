"""What an upload really is: its extension's kind, checked against its content, so that a
PDF named ``.docx`` or a PNG named ``.txt`` gets a message saying what to do."""

from __future__ import annotations

import codecs
import io
import zipfile

from rag.errors import CorruptFileError, EmptyFileError, EncryptedFileError, UnsupportedFileError
from rag.loaders.common import DAMAGED, PROTECTED
from rag.loaders.names import extension

_KIND_OF_EXT = {".pdf": "pdf", ".docx": "docx", ".txt": "txt", ".md": "md", ".markdown": "md"}
_CONTENT_WORDS = {
    "pdf": "a PDF", "docx": "a Word document (.docx)", "text": "plain text",
    "xlsx": "an Excel workbook (.xlsx)", "pptx": "a PowerPoint presentation (.pptx)",
    "odt": "an OpenDocument text (.odt)", "doc": "an old-format Word document (.doc)",
    "zip": "a zip archive",
}
_RENAME_TO = {"pdf": ".pdf", "docx": ".docx", "text": ".txt"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc, and password-protected .docx
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27}) + b"\x7f"


def sniff(data: bytes) -> str:
    """What the bytes are: pdf, docx, xlsx, pptx, odt, zip, badzip, doc, ole, text, binary."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
                mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return "badzip"
        for part, kind in (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"),
                           ("ppt/presentation.xml", "pptx")):
            if part in names:
                return kind
        return "odt" if mimetype.endswith(b"opendocument.text") else "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole" if "EncryptedPackage".encode("utf-16-le") in data else "doc"
    sample = data[:65536]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        sample = sample.decode("utf-16", errors="ignore").encode("utf-8")
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    binary = sample.count(0) > max(1, len(sample) // 200) or controls > max(2, len(sample) // 100)
    return "binary" if binary else "text"


def detect_kind(data: bytes, file_name: str) -> str:
    """'pdf' | 'docx' | 'txt' | 'md': the extension's kind, checked against the content."""
    ext = extension(file_name)
    expected = _KIND_OF_EXT.get(ext)
    if expected is None:
        what = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileError(f"{file_name}: unsupported file type {what}. Upload .pdf, "
                                   ".docx, .txt or .md files.", name=file_name, extension=ext)
    if not data or data.isspace():
        raise EmptyFileError(f"{file_name} is empty.", name=file_name)
    actual = sniff(data)
    if actual == "ole":
        raise EncryptedFileError(PROTECTED.format(file_name), name=file_name)
    wanted = "text" if expected in ("txt", "md") else expected
    if actual == wanted:
        return expected
    if wanted == "text" and actual not in ("pdf", "docx"):
        raise UnsupportedFileError(f"{file_name} looks like binary data, not text.",
                                   name=file_name, actual=actual)
    if actual not in _CONTENT_WORDS:
        raise CorruptFileError(DAMAGED.format(file_name), name=file_name)
    label = {"pdf": "a PDF", "docx": "a Word document", "text": "text"}[wanted]
    message = f"{file_name} is not {label}: its content is {_CONTENT_WORDS[actual]}."
    if actual in _RENAME_TO:
        message += f" Rename it to {_RENAME_TO[actual]} and upload it again."
    elif actual == "doc":
        message += " Save it as .docx and upload it again."
    raise UnsupportedFileError(message, name=file_name, actual=actual)
