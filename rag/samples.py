"""A small, real sample library for a one-click walkthrough.

``rag/sample_docs/`` ships four Spanish Wikipedia articles (as excerpted and professionally
translated in the XQuAD benchmark, CC BY-SA 4.0; see ``NOTICE`` and ``LICENSE`` there).
:func:`load_samples` copies them with their license into ``<data_dir>/samples/`` and ingests
them. How the files were made is in ``NOTICE``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from rag.schema import IngestReport

if TYPE_CHECKING:
    from rag.service import ProgressCallback, RagService

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_docs"
LICENSE_FILES = ("LICENSE", "NOTICE")


def sample_files() -> list[Path]:
    """The sample documents shipped with the package."""
    return sorted(SAMPLE_DIR.glob("*.md"))


def install_samples(data_dir: str | Path) -> list[Path]:
    """Copy the samples and their license into ``<data_dir>/samples/``; return the documents."""
    target = Path(data_dir) / "samples"
    target.mkdir(parents=True, exist_ok=True)
    for name in LICENSE_FILES:
        shutil.copyfile(SAMPLE_DIR / name, target / name)
    copies = []
    for path in sample_files():
        shutil.copyfile(path, target / path.name)
        copies.append(target / path.name)
    return copies


def load_samples(service: RagService,
                 progress: ProgressCallback | None = None) -> list[IngestReport]:
    """Install the samples into the service's data dir and ingest them."""
    return [service.ingest_file(path, progress=progress)
            for path in install_samples(service.settings.data_dir)]
