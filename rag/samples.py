"""A small, real sample library for a one-click walkthrough.

``rag/sample_docs/`` ships four Spanish Wikipedia articles (as excerpted and professionally
translated in the XQuAD benchmark, CC BY-SA 4.0; see ``NOTICE`` and ``LICENSE`` there).
:func:`load_samples` copies them with their license into ``<data_dir>/samples/`` and ingests
them. :func:`build_sample_docs` is how the files were made (kept for provenance).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from rag.schema import IngestReport

if TYPE_CHECKING:
    from rag.service import ProgressCallback, RagService

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_docs"
LICENSE_FILES = ("LICENSE", "NOTICE")

# XQuAD article title -> (file name, Spanish title).
ARTICLES = {
    "Nikola_Tesla": ("nikola-tesla.md", "Nikola Tesla"),
    "Amazon_rainforest": ("selva-amazonica.md", "Selva amazónica"),
    "Oxygen": ("oxigeno.md", "Oxígeno"),
    "Rhine": ("rio-rin.md", "Río Rin"),
}
SOURCE_LINE = ("_Fuente: Wikipedia, fragmentos traducidos al español en el conjunto XQuAD "
               "(google-deepmind/xquad). Licencia CC BY-SA 4.0._")


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


def clean_text(text: str) -> str:
    """Sample text without byte-order marks or stray whitespace."""
    return " ".join(text.replace("\ufeff", "").split())


def build_sample_docs(xquad_json: str | Path, out_dir: str | Path = SAMPLE_DIR) -> list[Path]:
    """Write one Markdown file per article of :data:`ARTICLES` from XQuAD's Spanish JSON."""
    data = json.loads(Path(xquad_json).read_text(encoding="utf-8-sig"))
    by_title = {article["title"]: article for article in data["data"]}
    written = []
    for key, (file_name, title) in ARTICLES.items():
        paragraphs = [clean_text(p["context"]) for p in by_title[key]["paragraphs"]]
        body = "\n\n".join([f"# {title}", *paragraphs, SOURCE_LINE]) + "\n"
        path = Path(out_dir) / file_name
        path.write_text(body, encoding="utf-8")
        written.append(path)
    return written
