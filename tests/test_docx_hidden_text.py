"""Word text that python-docx's ``.text`` leaves out is indexed: nested tables (3 and 200
levels deep), text boxes (once, not their VML copy), tracked insertions (not deletions),
altChunk parts (HTML, plain text, another .docx; an RTF one is named in a warning). And the
DOCTYPE/ENTITY refusal covers every XML part, whatever its name. Through the real sandbox
and, for the search, the real engine."""

from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from rag import sandbox
from rag.errors import CorruptFileError
from rag.service import RagService
from rag.settings import load_settings

NAMESPACES = " ".join([
    nsdecls("w", "r"),
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"',
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"',
    'xmlns:v="urn:schemas-microsoft-com:vml"'])


def _save(doc) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _nested_table(depth: int, text: str) -> str:
    xml = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
    for level in range(depth):
        xml = (f"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>nivel{level}</w:t></w:r></w:p>{xml}"
               "<w:p/></w:tc></w:tr></w:tbl>")
    return xml


def _body_xml(doc, xml: str) -> None:
    element = parse_xml(f"<w:body {NAMESPACES}>{xml}</w:body>")
    body = doc.element.body
    for child in list(element):
        body.insert(len(body) - 1, child)  # before sectPr


TEXT_BOX = (
    "<w:p><w:r><w:t>Ancla del cuadro.</w:t></w:r><w:r><mc:AlternateContent>"
    "<mc:Choice Requires=\"wps\"><w:drawing><wps:txbx><w:txbxContent><w:p><w:r>"
    "<w:t>Cuadro de texto: la turbina TX-4410 gira a 900 rpm.</w:t></w:r></w:p>"
    "</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape>"
    "<v:textbox><w:txbxContent><w:p><w:r><w:t>Cuadro de texto: la turbina TX-4410 gira a "
    "900 rpm.</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict>"
    "</mc:Fallback></mc:AlternateContent></w:r></w:p>")
TRACKED = ("<w:p><w:r><w:t xml:space=\"preserve\">El pedido es de </w:t></w:r>"
           "<w:del w:id=\"1\" w:author=\"a\"><w:r><w:delText>40</w:delText></w:r></w:del>"
           "<w:ins w:id=\"2\" w:author=\"a\"><w:r><w:t>75 bombas INS-3321</w:t></w:r></w:ins>"
           "<w:r><w:t>.</w:t></w:r></w:p>")


def _alt_chunk(doc, name: str, content_type: str, blob: bytes) -> None:
    part = Part(PackURI(f"/word/{name}"), content_type, blob, doc.part.package)
    rid = doc.part.relate_to(part, RT.A_F_CHUNK)
    _body_xml(doc, f'<w:altChunk r:id="{rid}"/>')


def _hidden_text_docx() -> bytes:
    doc = Document()
    doc.add_paragraph("Informe de la planta de Cienfuegos.")
    _body_xml(doc, _nested_table(3, "Profundo: la válvula NST-3003 está en el nivel 3."))
    _body_xml(doc, TEXT_BOX + TRACKED)
    _alt_chunk(doc, "chunk.html", "text/html",
               b"<html><body><p>Parte HTML: el silo HTM-5151 guarda arroz.</p>"
               b"<script>var x = 'no';</script></body></html>")
    _alt_chunk(doc, "chunk.txt", "text/plain", b"Parte de texto: el faro TXT-6161.")
    inner = Document()
    inner.add_paragraph("Documento incrustado: el puente DOC-7171 mide 80 m.")
    _alt_chunk(doc, "inner.docx", "application/vnd.openxmlformats-officedocument."
               "wordprocessingml.document.main+xml", _save(inner))
    _alt_chunk(doc, "chunk.rtf", "application/rtf", rb"{\rtf1 Parte RTF}")
    return _save(doc)


def test_hidden_docx_text_is_read_in_the_sandbox():
    document = sandbox.load_bytes(_hidden_text_docx(), "oculto.docx")
    text = document.text
    for needle in ("NST-3003", "nivel0", "TX-4410", "75 bombas INS-3321", "HTM-5151",
                   "TXT-6161", "DOC-7171"):
        assert needle in text, needle
    assert text.count("TX-4410") == 1  # the VML fallback copy is not read twice
    assert "40" not in text.replace("INS-3321", "")  # deleted text stays deleted
    assert "var x" not in text
    assert document.warnings == ["an embedded part of type application/rtf (altChunk) "
                                 "was skipped"]


def _with_body_xml(data: bytes, xml: str) -> bytes:
    """``data`` (a .docx) with ``xml`` spliced in before its section properties, as raw
    text: python-docx itself refuses to build a tree this deep."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "word/document.xml":
                body = body.replace(b"<w:sectPr", xml.encode() + b"<w:sectPr", 1)
            dst.writestr(info, body)
    return out.getvalue()


def test_tables_nested_200_deep_are_read():
    data = _with_body_xml(_save(Document()), _nested_table(200, "El fondo: código DEEP-2000."))
    document = sandbox.load_bytes(data, "anidado.docx")
    assert "DEEP-2000" in document.text and "nivel199" in document.text


def test_hidden_docx_text_is_searchable(tmp_path):
    service = RagService(load_settings(tmp_path / "data"))
    assert service.ingest_bytes("oculto.docx", _hidden_text_docx()).status == "added"
    for query in ("turbina TX-4410", "INS-3321", "silo HTM-5151", "puente DOC-7171",
                  "válvula NST-3003"):
        assert service.search(query, k=1)[0].file_name == "oculto.docx", query


@pytest.mark.parametrize("part", ["word/custom/item1.data", "word/footer9.bin"])
def test_doctype_in_an_xml_part_of_any_name_is_refused(part):
    data = _save(Document())
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "[Content_Types].xml" and part.endswith(".data"):
                body = body.replace(b"</Types>", f'<Override PartName="/{part}" ContentType='
                                    '"application/vnd.custom+xml"/></Types>'.encode())
            dst.writestr(info, body)
        dst.writestr(part, b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>' if part.endswith(
            ".data") else b'<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY l "l">]><a/>')
    with pytest.raises(CorruptFileError, match="DOCTYPE/ENTITY"):
        sandbox.load_bytes(out.getvalue(), "entidades.docx")
