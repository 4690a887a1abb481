"""Build small, real PDFs in tests without binary fixtures.

``make_pdf(["first page", "second page"])`` writes a valid PDF by hand: one Helvetica text
stream per page (WinAnsiEncoding, so Spanish accents work) and a correct xref table. A page
given as ``""`` or ``None`` gets a drawn rectangle and no text, like a scanned page. Within a
page, ``"\\n"`` starts a new line and a blank line leaves a paragraph gap.
"""

from __future__ import annotations

import io

PAGE_WIDTH = 612
PAGE_HEIGHT = 792
LEFT_MARGIN = 72
TOP_MARGIN = 72


def _pdf_string(line: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (characters outside it become '?')."""
    raw = line.encode("cp1252", errors="replace")
    raw = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + raw + b")"


def _invisible_text(text: str, font_size: float) -> bytes:
    """Text in render mode 3 (neither filled nor stroked): invisible on screen and on paper,
    yet extracted like any other text, the classic hiding place for prompt injections."""
    lines = [b"BT", b"3 Tr", b"/F1 %.1f Tf" % font_size, b"%d %d Td" % (LEFT_MARGIN, 120)]
    for i, line in enumerate(text.split("\n")):
        if i:
            lines.append(b"0 %.2f Td" % -(font_size * 1.2))
        lines.append(_pdf_string(line) + b" Tj")
    return b"\n".join([*lines, b"ET"]) + b"\n"


def _content_stream(text: str | None, font_size: float, hidden: str | None = None) -> bytes:
    extra = _invisible_text(hidden, font_size) if hidden else b""
    if not text:
        # No text layer: a filled rectangle stands in for a scanned image.
        return b"q 0.8 0.8 0.8 rg 72 300 468 400 re f Q\n" + extra
    leading = font_size * 1.2
    y = PAGE_HEIGHT - TOP_MARGIN
    parts = [b"BT", b"/F1 %.1f Tf" % font_size]
    first = True
    for line in text.split("\n"):
        if first:
            parts.append(b"%d %.2f Td" % (LEFT_MARGIN, y))
            first = False
        else:
            parts.append(b"0 %.2f Td" % -leading)
        if line.strip():
            parts.append(_pdf_string(line) + b" Tj")
    parts.append(b"ET")
    return b"\n".join(parts) + b"\n" + extra


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF whose numbered objects (1 = catalog) are given verbatim, with a correct xref."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def _build(pages: list[str | None], font_size: float,
           invisible: dict[int, str] | None = None) -> bytes:
    n = len(pages)
    # Object numbers: 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    objects: list[bytes] = []
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n)
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    for i, text in enumerate(pages):
        content_num = 5 + 2 * i
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (PAGE_WIDTH, PAGE_HEIGHT, content_num)
        )
        stream = _content_stream(text, font_size, (invisible or {}).get(i))
        objects.append(
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream"
        )

    return pdf_from_objects(objects)


def make_pdf(
    pages: list[str | None],
    *,
    encrypt_password: str | None = None,
    owner_password: str = "owner-secret",
    font_size: float = 11.0,
    invisible: dict[int, str] | None = None,
) -> bytes:
    """A PDF with one page per item of ``pages``.

    ``invisible``: ``{page_index: text}`` adds text drawn in render mode 3 (``3 Tr``) to
    those pages (0-based): not visible, but text extractors find it.

    ``encrypt_password``: ``None`` for no encryption; ``""`` encrypts with an empty user
    password (opens without asking, like many "protected" office PDFs); any other string
    makes a password-protected PDF. Encryption is RC4-128 via pypdf, which needs no extra
    crypto package.
    """
    raw = _build(list(pages), font_size, invisible)
    if encrypt_password is None:
        return raw
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    writer.encrypt(
        user_password=encrypt_password, owner_password=owner_password, algorithm="RC4-128"
    )
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _text_string(value: str) -> bytes:
    """A PDF text string in UTF-16BE with its byte order mark (any character)."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode() + b">"


def make_form_pdf(text: str, fields: list[dict]) -> bytes:
    """A one-page PDF with a filled-in AcroForm: ``text`` on the page and one text field
    (a widget annotation) per item of ``fields``: ``{"name", "value"}`` plus optional
    ``"tooltip"`` (``/TU``) and ``"hidden": True``. No appearance streams
    (``/NeedAppearances``), as many form fillers save them."""
    first_field = 6
    refs = b" ".join(b"%d 0 R" % (first_field + i) for i in range(len(fields)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [" + refs + b"] "
        b"/NeedAppearances true /DA (/Helv 10 Tf 0 g) /DR << /Font << /Helv 3 0 R >> >> >> >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R"
        b" >> >> /Contents 5 0 R /Annots [" % (PAGE_WIDTH, PAGE_HEIGHT) + refs + b"] >>",
    ]
    stream = _content_stream(text, 11.0)
    objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream")
    for i, field in enumerate(fields):
        top = PAGE_HEIGHT - 200 - 30 * i
        objects.append(
            b"<< /Type /Annot /Subtype /Widget /FT /Tx /P 4 0 R /T " + _text_string(
                field["name"]) + b" /V " + _text_string(field["value"])
            + (b" /TU " + _text_string(field["tooltip"]) if field.get("tooltip") else b"")
            + b" /F %d /Rect [200 %d 500 %d] /DA (/Helv 10 Tf 0 g) >>"
            % (2 if field.get("hidden") else 4, top - 20, top))
    return pdf_from_objects(objects)
