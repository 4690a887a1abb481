"""Right verdicts on odd but honest files (issue 14, items 7 and 9; issue 8's wrong
extensions), through the real engine: each input is stored and searchable, or refused with a
message that says what it really is. Invisible characters (BOMs, zero-width, bidi controls)
never reach passages, headings or citations, so search finds the words they split."""

from __future__ import annotations

import codecs
import io
import zipfile

import pytest
from docx import Document

from rag.errors import InvisibleNameError, UnknownEncodingError, XfaFormError
from rag.invisible import strip_invisible
from rag.loaders import load_bytes
from rag.service import RagService
from rag.settings import load_settings
from tests.pdf_factory import pdf_from_objects

SPANISH = "La señora Núñez dirigirá la sede de Cienfuegos el año próximo: ¡qué ilusión!\n"
JAPANESE = ("東京は日本の首都であり、人口は約千四百万人です。富士山は日本で一番高い山です。"
            "桜の季節には多くの人が公園を訪れます。\n")
CHINESE = ("北京是中国的首都，人口约两千万。长城是中国古代的军事防御工程，全长两万多公里。"
           "故宫是明清两代的皇家宫殿。\n")


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a character :func:`strip_invisible` would remove."""
    return strip_invisible(text) != text


def _docx(paragraphs: list[str], heading: str = "") -> bytes:
    doc = Document()
    if heading:
        doc.add_heading(heading, level=1)
    for text in paragraphs:
        doc.add_paragraph(text)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _macro_enabled(data: bytes) -> bytes:
    """A .docm: the main part declared macro-enabled, with a (never run) VBA project."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "[Content_Types].xml":
                body = body.replace(
                    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document."
                    b"main+xml", b"application/vnd.ms-word.document.macroEnabled.main+xml")
            dst.writestr(info, body)
        dst.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0 not a real macro")
    return out.getvalue()


def _xfa_form() -> bytes:
    """A dynamic XFA form as LiveCycle writes it: the catalog asks for rendering, the
    AcroForm holds the XFA packets, the one page has no text."""
    xfa = (b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><template/><xfa:datasets "
           b"xmlns:xfa='http://www.xfa.org/schema/xfa-data/1.0/'><xfa:data><nombre>Ana"
           b"</nombre></xfa:data></xfa:datasets></xdp:xdp>")
    empty = b"q 0.9 g 72 300 468 400 re f Q\n"
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA 5 0 R >> "
        b"/NeedsRendering true >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(empty) + empty + b"endstream",
        b"<< /Length %d >>\nstream\n" % len(xfa) + xfa + b"\nendstream",
    ])


# ------------------------------------------------------------------ verdicts (loader level)
@pytest.mark.parametrize(("name", "data", "expected", "warning"), [
    ("cita.txt", b"El archivo empieza con %PDF-1.7 y sigue siendo texto.\nstartxref no.",
     "El archivo empieza con %PDF-1.7", ""),
    ("cita.md", b"# Formatos\n\nUn PDF empieza por `%PDF-1.4`.\n", "Un PDF empieza por", ""),
    ("roto.txt", SPANISH.encode()[:20] + b"\xff" + SPANISH.encode()[20:],
     "Cienfuegos el año próximo", "not UTF-8: decoded as UTF-8 with 1 invalid byte(s) replaced"),
    ("japones.txt", JAPANESE.encode("shift_jis"), JAPANESE.strip(),
     "not UTF-8: decoded as Shift-JIS"),
    ("chino.txt", CHINESE.encode("gb18030"), CHINESE.strip(), "not UTF-8: decoded as GB18030"),
    ("utf32.txt", SPANISH.encode("utf-32"), SPANISH.strip(), "not UTF-8: decoded as UTF-32"),
    ("utf32le.txt", SPANISH.encode("utf-32-le"), SPANISH.strip(),
     "not UTF-8: decoded as UTF-32 (no BOM)"),
    ("utf16le.txt", SPANISH.encode("utf-16-le"), SPANISH.strip(),
     "not UTF-8: decoded as UTF-16 (no BOM)"),
    ("utf16be.md", ("# Título\n\n" + SPANISH).encode("utf-16-be"), SPANISH.strip(),
     "not UTF-8: decoded as UTF-16 (no BOM)"),
])
def test_text_files_get_the_right_reading(name, data, expected, warning) -> None:
    doc = load_bytes(data, name)
    assert doc.kind == name.rsplit(".", 1)[1]
    assert expected in doc.text
    assert doc.text.count("\ufffd") == (1 if name == "roto.txt" else 0)
    assert "Ã" not in doc.text and "\ufeff" not in doc.text
    assert doc.warnings == ([warning] if warning else [])


def test_utf8_with_one_bad_byte_is_not_mojibake() -> None:
    doc = load_bytes(SPANISH.encode() + b"\x93 fin.", "casi.txt")
    assert doc.text.startswith(SPANISH.strip()) and doc.text.endswith("\ufffd fin.")


def test_unrecognizable_encoding_says_so() -> None:
    with pytest.raises(UnknownEncodingError) as info:
        load_bytes("北京是中国的首都。".encode("gb18030"), "corto.txt")  # too short to tell
    assert str(info.value) == ("corto.txt is not UTF-8 and its encoding could not be "
                               "recognized: save it as UTF-8 and upload it again.")


def test_xfa_form_is_not_called_scanned() -> None:
    with pytest.raises(XfaFormError) as info:
        load_bytes(_xfa_form(), "solicitud.pdf")
    assert str(info.value) == ("solicitud.pdf is an XFA form (Adobe LiveCycle): its content "
                               "is not page text. Open it in Adobe Reader, print it to a PDF "
                               "and upload that.")


def test_macro_enabled_word_is_read_without_its_macros() -> None:
    data = _macro_enabled(_docx(["Informe con macros: la válvula V-17 se revisa cada mes."]))
    for name in ("informe.docm", "informe.docx"):
        doc = load_bytes(data, name)
        assert doc.kind == "docx" and "válvula V-17" in doc.text
    assert load_bytes(data, "informe.docm").warnings == [
        "a macro-enabled Word document: its macros were ignored"]


@pytest.mark.parametrize("name", ["\u200b.txt", "\u200b\u200d\u2060.md", "\u3164\u3164.txt",
                                  "\u2800.pdf", "\u202e\u202c.docx"])
def test_names_made_only_of_invisible_characters_are_refused(name) -> None:
    with pytest.raises(InvisibleNameError) as info:
        load_bytes(b"Texto visible.", name)
    shown = name.encode("ascii", "backslashreplace").decode()
    assert str(info.value) == (f"{shown}: the name has no visible characters; rename the file "
                               "and upload it again.")


# ------------------------------------------------------------- invisible characters stripped
def test_strip_invisible_keeps_joiners_where_scripts_need_them() -> None:
    assert strip_invisible("con\u200btra\u200dse\u00f1a") == "contraseña"
    assert strip_invisible("\u202e00.000.1\u202c") == "00.000.1"
    assert strip_invisible("\ufeffHola\u2066 mundo\u2069") == "Hola mundo"
    assert strip_invisible("می\u200cخواهم") == "می\u200cخواهم"  # Persian needs the ZWNJ
    assert strip_invisible("👩\u200d💻") == "👩\u200d💻"  # an emoji sequence
    assert not has_invisible("plain text")


def test_invisible_characters_never_reach_passages_or_headings() -> None:
    spoof = "Importe: \u202e00.000.1\u202c euros. Clave: con\u200btra\u200cse\u2060ña."
    two_boms = codecs.BOM_UTF16_LE + "Primera parte.\n".encode("utf-16-le") + \
        codecs.BOM_UTF16_LE + "Segunda parte.\n".encode("utf-16-le")  # files concatenated
    for doc in (load_bytes(spoof.encode(), "a.txt"),
                load_bytes(f"# Tí\u200btulo\u202e\n\n{spoof}".encode(), "b.md"),
                load_bytes(_docx([spoof], heading="Cap\u200bítulo"), "c.docx"),
                load_bytes(two_boms, "d.txt")):
        for section in doc.sections:
            assert not has_invisible(section.text + section.heading), section
    assert load_bytes(spoof.encode(), "a.txt").text == (
        "Importe: 00.000.1 euros. Clave: contraseña.")
    assert load_bytes(two_boms, "d.txt").text == "Primera parte.\nSegunda parte."


# ----------------------------------------------------------------------- through the engine
@pytest.fixture(scope="module")
def service(tmp_path_factory):
    return RagService(load_settings(tmp_path_factory.mktemp("data")))


def test_engine_stores_and_finds_what_the_verdicts_read(service) -> None:
    uploads = {
        "spoof.txt": "Informe de claves: la con\u200btra\u200dseña del almacén es TULIPÁN-88. "
                     "Saldo \u202e00.000.1\u202c pesos.".encode(),
        "nota.pdf": _docx(["El faro de Gibara se enciende a las siete."]),  # Word named .pdf
        "japones.txt": JAPANESE.encode("shift_jis"),
        "cita.txt": b"Los archivos PDF empiezan por %PDF-1.7; esta nota sobre el puente de "
                    b"Bacunayagua no lo es.",
        "utf16.txt": ("Informe sin BOM: la represa Zaza tiene 1.020 hectáreas.\n"
                      ).encode("utf-16-le"),
    }
    reports = {name: service.ingest_bytes(name, data) for name, data in uploads.items()}
    assert all(r.status == "added" for r in reports.values()), reports
    assert reports["nota.pdf"].warnings == [
        "named .pdf but its content is a Word document (.docx): read as such"]
    hits = service.search("con\u200btraseña del alma\u200dcén", k=1)  # a pasted question
    assert hits[0].file_name == "spoof.txt"
    assert "contraseña" in hits[0].text and "00.000.1" in hits[0].text
    assert not has_invisible(hits[0].text + hits[0].citation)
    assert service.search("faro de Gibara", k=1)[0].file_name == "nota.pdf"
    assert service.search("puente de Bacunayagua", k=1)[0].file_name == "cita.txt"
    assert service.search("represa Zaza hectáreas", k=1)[0].file_name == "utf16.txt"
    assert "富士山" in service.search("富士山", k=1)[0].text
    kinds = {d.name: d.kind for d in service.list_documents()}
    assert kinds["nota.pdf"] == "docx" and kinds["cita.txt"] == "txt"


def test_engine_reports_the_refusals(service) -> None:
    cases = {
        "\u200b\u200b.txt": ("invisible_name", "\\u200b\\u200b.txt: the name has no visible "
                             "characters; rename the file and upload it again."),
        "solicitud.pdf": ("xfa_form", "solicitud.pdf is an XFA form (Adobe LiveCycle): its "
                          "content is not page text. Open it in Adobe Reader, print it to a "
                          "PDF and upload that."),
        "corto.txt": ("encoding", "corto.txt is not UTF-8 and its encoding could not be "
                      "recognized: save it as UTF-8 and upload it again."),
    }
    data = {"\u200b\u200b.txt": b"Texto.", "solicitud.pdf": _xfa_form(),
            "corto.txt": "北京是中国的首都。".encode("gb18030")}
    before = service.stats()
    for name, (code, message) in cases.items():
        report = service.ingest_bytes(name, data[name])
        assert (report.status, report.error_code, report.error) == ("failed", code, message)
    assert service.stats() == before
