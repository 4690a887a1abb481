"""Documents: upload with per-file progress (parse, chunk, embed, with an ETA on big
files), a per-file report, sample documents, and the library table with delete and
re-index."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from rag import i18n, samples
from rag import service as engine
from rag.errors import RagError
from rag.schema import IngestReport
from ui import auth

if PagesManager.uses_pages_directory:  # run without the router: see app.py
    PagesManager.uses_pages_directory = False
    st.rerun()

log = logging.getLogger("app.documents")
LANG = i18n.ui_language(st.session_state)
FILE_TYPES = ["pdf", "docx", "docm", "txt", "md"]
BIG_FILE_CHUNKS = 64  # files with more chunks than this get an ETA while embedding
STAGE_AT = {"parse": 0.03, "chunk": 0.12, "index": 0.93, "done": 1.0}  # share of the bar
STATUS_ICONS = {"added": ":material/check_circle:", "replaced": ":material/sync:",
                "skipped": ":material/content_copy:", "failed": ":material/error:"}


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


class Tracker:
    """One ``st.status`` box with a progress bar per file, fed by the engine's
    :class:`~rag.service.IngestProgress` callbacks (a new file name opens a new box)."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.box = self.bar = None
        self.embed_started = 0.0

    def __call__(self, progress: engine.IngestProgress) -> None:
        if progress.file_name != self.name:
            self._start(progress.file_name)
        if progress.stage == "ocr":
            share = progress.done / progress.total if progress.total else 1.0
            self.bar.progress(0.03 + 0.09 * share, text=t("stage.ocr", done=progress.done,
                                                          total=progress.total))
        elif progress.stage == "embed":
            share = progress.done / progress.total if progress.total else 1.0
            text = t("stage.embed", done=progress.done, total=progress.total)
            if progress.done == 0:
                self.embed_started = time.perf_counter()
            elif progress.total >= BIG_FILE_CHUNKS and progress.done < progress.total:
                elapsed = time.perf_counter() - self.embed_started
                left = elapsed / progress.done * (progress.total - progress.done)
                text += " · " + t("stage.eta", seconds=max(1, round(left)))
            self.bar.progress(0.12 + 0.8 * share, text=text)
        else:
            self.bar.progress(STAGE_AT.get(progress.stage, 0.0),
                              text=t(f"stage.{progress.stage}"))
        if progress.stage == "done":
            self.box.update(state="complete", expanded=False)

    def _start(self, name: str) -> None:
        if self.box is not None:
            self.box.update(state="complete", expanded=False)
        self.name = name
        self.box = st.status(i18n.plain(name), expanded=True)
        self.bar = self.box.progress(0.0, text=t("stage.parse"))


def ingest_uploads(service: engine.RagService,
                   files: list[tuple[str, bytes]]) -> list[IngestReport]:
    """Ingest uploaded ``(name, bytes)`` pairs one by one, showing their progress here."""
    tracker = Tracker()
    batch: set[str] = set()  # two files of one upload with the same name are both kept
    return [service.ingest_bytes(name, data, progress=tracker, batch=batch)
            for name, data in files]


def finish(reports: list[IngestReport]) -> None:
    """Keep the reports for the next run, reset the uploader and rerun."""
    st.session_state["reports"] = [asdict(r) for r in reports]
    st.session_state["uploader"] = st.session_state.get("uploader", 0) + 1
    st.rerun()


def render_reports(reports: list[dict]) -> None:
    head, button = st.columns([4, 1], vertical_alignment="center")
    head.subheader(t("docs.report"))
    if button.button(t("docs.clear_report"), icon=":material/close:", type="tertiary"):
        st.session_state.pop("reports", None)
        st.rerun()
    for report in reports:
        with st.container(border=True):
            status = report["status"]
            st.markdown(f"{STATUS_ICONS.get(status, '')} **{i18n.plain(report['file_name'])}**"
                        f" — {t('status.' + status)}")
            if status == "failed":
                st.error(i18n.error_text(report["error_code"], report["error"], LANG,
                                         name=report["file_name"]), icon=":material/error:")
            elif status != "skipped":
                st.caption(" · ".join([
                    i18n.count("page", report["pages"], LANG),
                    i18n.count("chunk", report["chunks"], LANG),
                    i18n.count("character", report["characters"], LANG),
                    i18n.number(report["seconds"], LANG, 1) + " s"]))
            for warning in report["warnings"]:
                st.warning(i18n.plain(i18n.warning_text(warning, LANG)),
                           icon=":material/warning:")


def _delete_selected(service: engine.RagService) -> None:
    names = st.session_state.get("delete_pick") or []
    try:
        for name in names:
            service.delete_document(name)
        shown = ", ".join(i18n.plain(name) for name in names)
        st.session_state["notice"] = ("success", t("docs.deleted", names=shown))
    except Exception as exc:  # shown as a message on the next run
        log.exception("delete failed")
        st.session_state["notice"] = ("error", i18n.error_message(exc, LANG))
    st.session_state["delete_pick"] = []


def library(service: engine.RagService) -> None:
    try:
        documents = service.list_documents()
    except RagError as exc:  # e.g. indexed by another embedder: offer the fix
        st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        if exc.code == "embedder_mismatch" and st.button(t("docs.reindex"), key="reindex_fix"):
            st.session_state["reindex_requested"] = True
            st.rerun()
        return
    st.subheader(f"{t('docs.library')} ({len(documents)})")
    if not documents:
        st.info(t("docs.empty"), icon=":material/inbox:")
        return
    rows = [{"name": d.name, "kind": d.kind.upper(), "pages": d.pages, "chunks": d.chunks,
             "characters": d.characters, "added": d.added_at[:10],
             "warnings": len(d.warnings)} for d in documents]
    column = st.column_config
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "name": column.TextColumn(t("col.name"), width="medium"),
        "kind": column.TextColumn(t("col.kind"), width=56),
        "pages": column.NumberColumn(t("col.pages"), width=72),
        "chunks": column.NumberColumn(t("col.chunks"), width=92),
        "characters": column.NumberColumn(t("col.characters"), width=92),
        "added": column.TextColumn(t("col.added"), width=100,
                                   help=t("col.added_help")),
        "warnings": column.NumberColumn(t("col.warnings"), width=72),
    })
    with st.expander(t("docs.manage"), icon=":material/build:"):
        st.multiselect(t("docs.delete_pick"), [d.name for d in documents], key="delete_pick")
        left, right = st.columns(2)
        left.button(t("docs.delete"), icon=":material/delete:", type="primary",
                    disabled=not st.session_state.get("delete_pick"), key="delete",
                    on_click=_delete_selected, args=(service,))
        if right.button(t("docs.reindex"), icon=":material/refresh:", help=t("docs.reindex_help"),
                        key="reindex"):
            st.session_state["reindex_requested"] = True
            st.rerun()


def main() -> None:
    settings = auth.user_settings()
    service = st.cache_resource(engine.create_service, show_spinner=False,
                                max_entries=1)(settings)
    st.title(t("docs.title"))
    st.caption(t("docs.caption"))
    notice = st.session_state.pop("notice", None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])

    with st.container(border=True):
        uploads = st.file_uploader(t("docs.upload"), type=FILE_TYPES, accept_multiple_files=True,
                                   key=f"uploader_{st.session_state.get('uploader', 0)}") or []
        left, right = st.columns(2)
        label = (t("docs.ingest_n", files=i18n.count("file", len(uploads), LANG)) if uploads
                 else t("docs.ingest"))
        add = left.button(label, type="primary",
                          icon=":material/upload:", disabled=not uploads, key="ingest",
                          width="stretch")
        load = right.button(t("docs.samples"), icon=":material/auto_stories:",
                            help=t("docs.samples_help"), key="samples", width="stretch")
    if add:
        finish(ingest_uploads(service, [(f.name, f.getvalue()) for f in uploads]))
    if load:
        finish(samples.load_samples(service, progress=Tracker()))
    if st.session_state.pop("reindex_requested", False):
        with st.spinner(t("docs.reindexing")):
            finish(service.reindex(progress=Tracker()))

    if st.session_state.get("reports"):
        render_reports(st.session_state["reports"])
    library(service)


try:
    main()
except Exception as exc:  # never a traceback on screen
    log.exception("documents page failed")
    st.error(i18n.error_message(exc, LANG), icon=":material/error:")
