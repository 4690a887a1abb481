"""What an upload really is, from its content: a supported file with the wrong extension (a
PDF named ``.docx``, a Word document named ``.pdf``) is read as what it is, with a note;
unsupported content (a PNG named ``.txt``, a workbook named ``.docx``) gets a message saying
what to do."""

from __future__ import annotations

import codecs
import io
import zipfile

from rag.errors import CorruptFileError, EmptyFileError, EncryptedFileError, UnsupportedFileError
from rag.loaders.common import DAMAGED, PROTECTED
from rag.loaders.encodings import wide_unicode
from rag.loaders.names import extension

_KIND_OF_EXT = {".pdf": "pdf", ".docx": "docx", ".docm": "docx", ".txt": "txt", ".md": "md",
                ".markdown": "md"}
_TEXT_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CONTENT_WORDS = {
    "pdf": "a PDF", "docx": "a Word document (.docx)", "text": "plain text",
    "xlsx": "an Excel workbook (.xlsx)", "pptx": "a PowerPoint presentation (.pptx)",
    "odt": "an OpenDocument text (.odt)", "doc": "an old-format Word document (.doc)",
    "zip": "a zip archive",
}
_READ_AS = {"pdf": "pdf", "docx": "docx", "text": "txt"}  # supported content, any extension
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc, and password-protected .docx
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27}) + b"\x7f"


def sniff(data: bytes, named_text: bool = False) -> str:
    """What the bytes are: pdf, docx, xlsx, pptx, odt, zip, badzip, doc, ole, text, binary.
    A PDF may have junk before its header, but a file ``named_text`` (.txt, .md) counts as a
    PDF only if it starts with the header: a note that quotes "%PDF-" stays text."""
    head = data[:1024]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n\x00").startswith(b"%PDF-") or (
            not named_text and b"%PDF-" in head and _looks_like_pdf(data)):
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
    if sample.startswith(_TEXT_BOMS) or wide_unicode(data):
        return "text"
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    binary = sample.count(0) > max(1, len(sample) // 200) or controls > max(2, len(sample) // 100)
    return "binary" if binary else "text"


def _looks_like_pdf(data: bytes) -> bool:
    """A PDF behind some leading junk ends with its cross-reference pointer; a text that
    merely quotes "%PDF-" near its start does not."""
    tail = data[-2048:]
    return b"startxref" in tail or b"%%EOF" in tail


def detect_kind(data: bytes, file_name: str) -> tuple[str, list[str]]:
    """('pdf' | 'docx' | 'txt' | 'md', notes): what the content is, read whatever the
    extension says, with a note when the extension says otherwise."""
    ext = extension(file_name)
    expected = _KIND_OF_EXT.get(ext)
    if expected is None:
        what = f"'{ext}'" if ext else "(no extension)"
        raise UnsupportedFileError(f"{file_name}: unsupported file type {what}. Upload .pdf, "
                                   ".docx, .txt or .md files.", name=file_name, extension=ext)
    if not data or data.isspace():
        raise EmptyFileError(f"{file_name} is empty.", name=file_name)
    actual = sniff(data, named_text=expected in ("txt", "md"))
    if actual == "ole":
        raise EncryptedFileError(PROTECTED.format(file_name), name=file_name)
    wanted = "text" if expected in ("txt", "md") else expected
    notes = ["a macro-enabled Word document: its macros were ignored"] if ext == ".docm" else []
    if actual == wanted:
        return expected, notes
    if actual in _READ_AS:
        kind = "md" if actual == "text" and expected == "md" else _READ_AS[actual]
        return kind, [*notes, f"named {ext} but its content is {_CONTENT_WORDS[actual]}: "
                              "read as such"]
    if wanted == "text":
        raise UnsupportedFileError(f"{file_name} looks like binary data, not text.",
                                   name=file_name, actual=actual)
    if actual not in _CONTENT_WORDS:
        raise CorruptFileError(DAMAGED.format(file_name), name=file_name)
    label = {"pdf": "a PDF", "docx": "a Word document"}[wanted]
    message = f"{file_name} is not {label}: its content is {_CONTENT_WORDS[actual]}."
    if actual == "doc":
        message += " Save it as .docx and upload it again."
    raise UnsupportedFileError(message, name=file_name, actual=actual)
