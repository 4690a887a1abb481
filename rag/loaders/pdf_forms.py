"""The filled-in fields of a PDF form (AcroForm): their values are not page text, so a
plain text extraction misses what a person typed into the form.

Each visible text, combo or list field with a value becomes one line
"label: value" after the page's text; the label is the field's tooltip (``/TU``) when it
has one, else the last part of its name. Hidden fields are left out, like hidden text."""

from __future__ import annotations

import ctypes
import re
from dataclasses import replace
from typing import Any

from rag.loaders.pdf_layout import Line

MAX_FIELDS_PER_PAGE = 500
MAX_VALUE_CHARS = 4000
_INDEX_SUFFIX = re.compile(r"\[\d+\]$")


def _utf16(call: Any, *args: Any) -> str:
    """A string from a pdfium getter that fills a UTF-16LE buffer and returns its size."""
    size = call(*args, None, 0)
    if size <= 2:
        return ""
    buffer = ctypes.create_string_buffer(size)
    call(*args, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")


def label_of(name: str, tooltip: str) -> str:
    """"Nombre del solicitante" for a tooltip, else "nombre" for "form1[0].p1[0].nombre[0]"."""
    if tooltip.strip():
        return " ".join(tooltip.split())
    return _INDEX_SUFFIX.sub("", name.rsplit(".", 1)[-1]).strip()


def form_lines(pdf: Any, page: Any) -> list[Line]:
    """The page's filled-in fields as lines, top to bottom; [] without a form."""
    import pypdfium2.raw as pdfium_c

    form = pdf.formenv
    if not form:
        return []
    wanted = (pdfium_c.FPDF_FORMFIELD_TEXTFIELD, pdfium_c.FPDF_FORMFIELD_COMBOBOX,
              pdfium_c.FPDF_FORMFIELD_LISTBOX)
    hidden = pdfium_c.FPDF_ANNOT_FLAG_HIDDEN | pdfium_c.FPDF_ANNOT_FLAG_NOVIEW
    found: list[tuple[float, float, Line]] = []
    count = min(pdfium_c.FPDFPage_GetAnnotCount(page.raw), MAX_FIELDS_PER_PAGE)
    for index in range(count):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            if (pdfium_c.FPDFAnnot_GetSubtype(annot) != pdfium_c.FPDF_ANNOT_WIDGET
                    or pdfium_c.FPDFAnnot_GetFormFieldType(form.raw, annot) not in wanted
                    or pdfium_c.FPDFAnnot_GetFlags(annot) & hidden):
                continue
            value = " ".join(_utf16(pdfium_c.FPDFAnnot_GetFormFieldValue, form.raw,
                                    annot).split())[:MAX_VALUE_CHARS]
            if not value:
                continue
            label = label_of(_utf16(pdfium_c.FPDFAnnot_GetFormFieldName, form.raw, annot),
                             _utf16(pdfium_c.FPDFAnnot_GetFormFieldAlternateName, form.raw,
                                    annot))
            rect = pdfium_c.FS_RECTF()
            has_rect = pdfium_c.FPDFAnnot_GetRect(annot, rect)
            top, left = (max(rect.top, rect.bottom), rect.left) if has_rect else (0.0, 0.0)
            bottom = min(rect.top, rect.bottom) if has_rect else 0.0
            text = f"{label}: {value}" if label else value
            found.append((-top, left, Line(text, top=top, bottom=bottom)))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    lines = [line for _, _, line in sorted(found, key=lambda f: (f[0], f[1]))]
    return [replace(lines[0], new_paragraph=True), *lines[1:]] if lines else []
