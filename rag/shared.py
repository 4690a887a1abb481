"""The shared library: documents an administrator publishes for every account to search.

It is an ordinary library in its own home (``<data_dir>/shared/``). A person's searches
cover their own library and the shared one; in a document filter and in sources, shared
documents are named ``shared/<name>`` (a stored name never contains ``/``, so the two
cannot be confused)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.auth import SHARED_HOME, accounts_enabled
from rag.errors import RagError
from rag.retrieval import hybrid_search
from rag.schema import Source
from rag.settings import Settings
from rag.store import backend_name

if TYPE_CHECKING:
    from rag.service import RagService

log = logging.getLogger(__name__)

PREFIX = "shared/"


def is_shared(name: str) -> bool:
    return name.startswith(PREFIX)


def library_settings(settings: Settings, root_data_dir: str | Path) -> Settings:
    """The shared library's settings: the home ``shared/`` of the app's data dir, with the
    caller's embedder (so that one query vector searches both)."""
    return settings.with_changes(data_dir=str(Path(root_data_dir) / SHARED_HOME),
                                 library="default")


def published(settings: Settings) -> bool:
    """Whether the shared library (its :func:`library_settings`) holds documents: its
    folder exists, or, in a database, it has a document (or cannot be checked: a search
    then reports why)."""
    if backend_name(settings.database_url) == "embedded":
        return (Path(settings.data_dir) / "libraries" / settings.library).is_dir()
    from rag.components import open_library

    try:
        return open_library(settings).stats()[0] > 0
    except RagError:
        return True


def attach(service: RagService, root: Settings,
           factory: Callable[[Settings], RagService]) -> RagService:
    """``service`` searching the shared library too (built by ``factory``), as every
    page and the CLI do: only with accounts on and once something was published."""
    library = library_settings(service.settings, root.data_dir)
    if accounts_enabled(root.auth) and published(library):
        service.shared = factory(library)
    else:
        service.shared = None
    return service


def split_filter(documents: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """A document filter split into (own names, shared names); ``None``: no filter, while
    ``[]`` means none of that library."""
    if not documents:
        return None, None
    own = [d for d in documents if not is_shared(d)]
    shared = [d.removeprefix(PREFIX) for d in documents if is_shared(d)]
    return own, shared


def search_both(own: RagService, shared: RagService, query: str, k: int,
                documents: list[str] | None = None) -> list[Source]:
    """The ``k`` best passages of both libraries, by cosine similarity (one embedder, so
    the scores compare), re-ranked."""
    own_names, shared_names = split_filter(documents)
    found: list[Source] = []
    if own_names is None or own_names:
        found += hybrid_search(own.library, own.embedder, query, k, own_names)
    if shared_names is None or shared_names:
        try:
            found += [_shared(s) for s in hybrid_search(shared.library, own.embedder, query, k,
                                                        shared_names)]
        except RagError as exc:  # e.g. indexed by another embedder: search the rest
            log.warning("shared library skipped: %s", exc)
    found.sort(key=lambda s: -s.score)
    return [_ranked(s, rank) for rank, s in enumerate(found[:k], start=1)]


def _shared(source: Source) -> Source:
    return Source(file_name=PREFIX + source.file_name, page=source.page,
                  heading=source.heading, text=source.text, score=source.score,
                  rank=source.rank, chunk_id=source.chunk_id)


def _ranked(source: Source, rank: int) -> Source:
    return Source(file_name=source.file_name, page=source.page, heading=source.heading,
                  text=source.text, score=source.score, rank=rank, chunk_id=source.chunk_id)


def publish(own: RagService, shared: RagService, names: list[str]) -> list:
    """Copy documents (from their stored originals) into the shared library."""
    reports = []
    for name in names:
        data = own.library.read_original(name)
        reports.append(shared.ingest_bytes(name, data))
    return reports
