"""Settings: the model (every ``models/*.gguf`` plus the bundled one), context size,
temperature, top-k, chunk size (which needs a re-index) and GPU layers, saved to
``<data_dir>/settings.json``; the hardware the model runs on; and the model gallery,
whose downloads run in the background (``rag.download_jobs``) with a progress bar."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from rag import download_jobs, gallery, i18n
from rag import service as engine
from rag.embedding import embedder_class
from rag.errors import RagError
from rag.schema import ModelInfo
from rag.settings import Settings, save_settings
from ui import admin, auth

if PagesManager.uses_pages_directory:  # run without the router: see app.py
    PagesManager.uses_pages_directory = False
    st.rerun()

log = logging.getLogger("app.settings")
LANG = i18n.ui_language(st.session_state)
CONTEXT_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768]


def t(key: str, **params: object) -> str:
    return i18n.t(key, LANG, **params)


def model_choices(settings: Settings, models: list[ModelInfo]) -> dict[str, str]:
    """Setting value -> label; ``""`` is the bundled default. A saved model whose file is
    gone stays listed (by its file name: server paths are not shown), so the form shows what
    is configured."""
    choices = {}
    for info in models:
        details = [i18n.number(info.size_bytes / 2**20, LANG) + " MB", info.quantization]
        if info.parameters:
            details.append(info.parameters)
        label = f"{info.name.removesuffix('.' + info.quantization)} · {' · '.join(details)}"
        choices["" if info.default else info.path] = (
            f"{label} ({t('set.default')})" if info.default else label)
    choices.setdefault(selected_model(settings, choices), Path(settings.model).name)
    return choices


def selected_model(settings: Settings, choices: dict[str, str]) -> str:
    """The option for the saved model (a bare file name matches its path in models/)."""
    if settings.model in choices:
        return settings.model
    return next((path for path in choices if path and path.endswith("/" + settings.model)),
                settings.model)


def settings_form(settings: Settings, service: engine.RagService) -> None:
    models = service.available_models()
    choices = model_choices(settings, models)
    options = list(choices)
    max_chunk = min(512, embedder_class(settings.embedder).max_tokens)
    with st.form("settings_form", border=True):
        model = st.selectbox(t("set.model"), options, format_func=choices.__getitem__,
                             index=options.index(selected_model(settings, choices)),
                             help=t("set.model_help"), key="set_model")
        st.caption(t("set.models_found", models=i18n.count("model", len(models), LANG)))
        left, right = st.columns(2)
        n_ctx = left.select_slider(
            t("set.n_ctx"), CONTEXT_SIZES,
            value=min(CONTEXT_SIZES, key=lambda size: abs(size - settings.n_ctx)), key="set_n_ctx")
        temperature = right.slider(t("set.temperature"), 0.0, 1.5,
                                   float(settings.temperature), 0.05, key="set_temperature")
        top_k = left.slider(t("set.top_k"), 1, 12, int(settings.top_k), key="set_top_k")
        chunk_tokens = right.number_input(
            t("set.chunk_tokens"), 64, max_chunk, min(int(settings.chunk_tokens), max_chunk),
            step=8, help=t("set.chunk_help"), key="set_chunk_tokens")
        gpu_layers = left.number_input(t("set.gpu_layers"), -1, 999,
                                       int(settings.n_gpu_layers), help=t("set.gpu_help"),
                                       key="set_gpu_layers")
        submitted = st.form_submit_button(t("set.save"), type="primary", icon=":material/save:")
    if not submitted:
        return
    wanted = {"model": model, "n_ctx": int(n_ctx), "temperature": round(float(temperature), 2),
              "top_k": int(top_k), "chunk_tokens": int(chunk_tokens),
              "n_gpu_layers": int(gpu_layers)}
    changes = {key: value for key, value in wanted.items() if getattr(settings, key) != value}
    if not changes:
        st.session_state["settings_notice"] = ("info", t("set.unchanged"))
    else:
        saved = save_settings(settings, **changes)
        log.info("settings changed: %s", changes)
        st.session_state["settings_notice"] = ("success", " ".join(
            [t("set.saved"), *(i18n.setting_issue_text(issue, LANG) for issue in saved.issues)]))
        if "chunk_tokens" in changes and service.stats()[0]:
            st.session_state["reindex_needed"] = True
    st.rerun()


def hardware(settings: Settings, service: engine.RagService) -> None:
    st.subheader(t("set.hardware"))
    try:
        placement = service.hardware()
    except RagError as exc:  # e.g. the configured model file is gone
        st.error(i18n.error_message(exc, LANG), icon=":material/error:")
        return
    runs_on, gpu, threads = st.columns([2, 1.3, 1])
    runs_on.metric(t("set.runs_on"), i18n.hardware_text(placement, LANG))
    gpu.metric(t("set.gpu_support"), t("set.yes") if placement.gpu else t("set.no"))
    threads.metric(t("set.cpu_threads"), settings.threads)


def use_model(settings: Settings, file_name: str) -> None:
    save_settings(settings, model=file_name)
    st.session_state["settings_notice"] = ("success", t("gal.now_using", name=file_name))
    st.rerun()


def gallery_entry(settings: Settings, model: gallery.GalleryModel, busy: set[str]) -> None:
    fit = gallery.machine_fit(model, settings.models_dir, settings.n_threads)
    with st.container(border=True, key=f"gallery_card_{model.id}"):
        name, action = st.columns([3, 1.2], vertical_alignment="center")
        name.markdown(f"**{i18n.plain(model.name)}**  \n{i18n.plain(model.note(LANG))}")
        name.caption(i18n.plain(t(
            "gal.facts", params=model.parameters, quant=model.quantization,
            size=i18n.number(model.size_gb, LANG, 2), ram=i18n.number(model.ram_gb, LANG, 1),
            speed=i18n.number(fit.tokens_per_s, LANG, 0 if fit.tokens_per_s >= 10 else 1),
            licence=model.licence)))
        if not fit.fits_memory:
            name.caption(f":material/warning: {t('gal.too_big')}")
        key = f"gal_{model.id}"
        if fit.installed:
            in_use = Path(settings.model or "").name == model.file_name
            if action.button(t("gal.in_use") if in_use else t("gal.use"), key=key,
                             disabled=in_use, icon=":material/check_circle:"):
                use_model(settings, model.file_name)
        elif action.button(t("gal.download"), key=key, icon=":material/download:",
                           disabled=model.source in busy, type="primary"):
            start_download(model.source, settings.models_dir)


@st.fragment(run_every=1.0)
def download_progress(models_dir: str) -> None:
    """The running downloads' bars, refreshed every second; when one ends the whole page
    reruns, to report it and list the new model."""
    running = [job for job in download_jobs.jobs(models_dir) if job.status == "running"]
    if not running:
        st.rerun(scope="app")
    for job in running:
        name = i18n.plain(job.file_name or job.source)
        text = (t("gal.downloading", name=name, done=i18n.number(job.done / 2**20, LANG),
                  total=i18n.number(job.total / 2**20, LANG)) if job.total
                else t("gal.connecting", source=name))
        st.progress(job.fraction, text=text)


def finished_downloads(models_dir: str) -> None:
    """Report the downloads that ended (kept in the session until the next one starts)."""
    notices = st.session_state.setdefault("download_notices", [])
    for job in download_jobs.jobs(models_dir):
        if job.status == "running":
            continue
        download_jobs.dismiss(models_dir, job.source)
        name = i18n.plain(job.file_name or job.source)
        notices.append(("success", t("gal.done", name=name)) if job.status == "done" else
                       ("error", t("gal.failed", name=name,
                                   error=i18n.plain(i18n.error_message(job.error, LANG)))))
    for kind, text in notices:
        if kind == "success":
            st.success(text, icon=":material/check_circle:")
        else:
            st.error(text, icon=":material/error:")


def start_download(source: str, models_dir: str, sha256: str | None = None) -> None:
    st.session_state["download_notices"] = []
    download_jobs.start(source, models_dir, sha256)
    st.rerun()


def model_gallery(settings: Settings) -> None:
    st.subheader(t("gal.title"))
    cores = os.cpu_count() or 1
    st.caption(t("gal.caption", cores=t("gal.cores", n=settings.n_threads or cores),
                 memory=i18n.number(gallery.total_memory_gb(), LANG),
                 folder=i18n.plain(Path(settings.models_dir).name + "/")))
    finished_downloads(settings.models_dir)
    busy = {job.source for job in download_jobs.jobs(settings.models_dir)}
    if busy:  # (no polling when nothing runs)
        download_progress(settings.models_dir)
    for model in gallery.load_gallery():
        gallery_entry(settings, model, busy)
    with st.expander(t("gal.custom"), icon=":material/link:"), st.form("custom_model"):
        source = st.text_input(t("gal.custom_source"), key="gal_custom_source",
                               placeholder="owner/repo/model.Q4_K_M.gguf")
        sha256 = st.text_input(t("gal.custom_sha"), key="gal_custom_sha",
                               help=t("gal.custom_help"))
        if st.form_submit_button(t("gal.download"), icon=":material/download:") \
                and source.strip():
            start_download(source.strip(), settings.models_dir, sha256.strip() or None)


def main() -> None:
    settings = auth.user_settings()
    service = st.cache_resource(engine.create_service, show_spinner=False,
                                max_entries=1)(settings)
    st.title(t("set.title"))
    st.caption(t("set.caption", path="settings.json"))  # never the server's absolute path
    notice = st.session_state.pop("settings_notice", None)
    if notice:
        (st.success if notice[0] == "success" else st.info)(notice[1])
    if settings.issues:  # values in settings.json or RAG_* that were not used
        st.warning("  \n".join([t("set.issues"), *(f"- {i18n.setting_issue_text(issue, LANG)}"
                                                   for issue in settings.issues)]),
                   icon=":material/warning:")
    if st.session_state.get("reindex_needed"):
        with st.container(border=True):
            st.warning(t("set.reindex_needed"), icon=":material/warning:")
            if st.button(t("set.reindex_now"), icon=":material/refresh:", type="primary",
                         key="reindex_now"):
                st.session_state.pop("reindex_needed", None)
                st.session_state["reindex_requested"] = True  # done by the documents page
                st.switch_page("pages/documents.py")
    settings_form(settings, service)
    hardware(settings, service)
    if auth.is_admin():  # downloads fill the shared models folder
        model_gallery(settings)
    if auth.enabled() and auth.is_admin():
        admin.administration(service, LANG)


try:
    main()
except Exception as exc:  # never a traceback on screen
    log.exception("settings page failed")
    st.error(i18n.error_message(exc, LANG), icon=":material/error:")
