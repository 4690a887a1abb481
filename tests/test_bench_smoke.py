"""The benchmark's smoke run: ``python -m bench.run --smoke`` on a tiny corpus produces every
figure (project and baseline values) in its JSON. It checks that the benchmark works, not
how fast anything is: no speed target is asserted here."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

# Cold start needs a browser: without chromium, its figures may be missing (with the reason).
BROWSER_FIGURES = {"cold_start_health_s", "cold_start_render_s"}


def _baseline_installed() -> bool:
    modules = ("langchain_community", "langchain_huggingface")
    return all(importlib.util.find_spec(m) for m in modules)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not _baseline_installed():  # make test installs it: its absence is a broken set-up
        pytest.fail("bench/requirements*.txt are not installed (scripts/install.sh --dev)")
    out = tmp_path_factory.mktemp("bench-out")
    work = tmp_path_factory.mktemp("bench-work")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out), "--work", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=540, check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
             # the shipped subset, never ../shared: the suite runs the same in a plain clone
             "CHATDOCS_XQUAD_DIR": str(ROOT / "tests" / "data" / "xquad")})
    assert (out / "latest.json").is_file(), done.stdout[-3000:] + done.stderr[-6000:]
    document = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    document["_stdout"], document["_stderr"], document["_rc"] = (done.stdout, done.stderr,
                                                                 done.returncode)
    document["_md"] = (out / "latest.md").read_text(encoding="utf-8")
    return document


def test_smoke_run_succeeds(smoke: dict) -> None:
    assert smoke["_rc"] == 0, smoke["errors"] or smoke["_stderr"][-4000:]
    assert not smoke["errors"]
    assert smoke["meta"]["smoke"] is True


def test_every_figure_has_project_and_baseline_values(smoke: dict) -> None:
    from bench.report import FIGURE_KEYS

    figures = smoke["figures"]
    assert set(FIGURE_KEYS) <= set(figures), set(FIGURE_KEYS) - set(figures)
    browser_ok = Path("/usr/bin/chromium").exists()
    for key in FIGURE_KEYS:
        figure = figures[key]
        if key in BROWSER_FIGURES and not browser_ok:
            continue
        for side in ("project", "baseline"):
            value = figure[side]
            assert isinstance(value, int | float), (key, side, value, figure["note"])
            assert value >= 0, (key, side, value)
        assert figure["ratio"] is not None and figure["ratio"] > 0, (key, figure)


def test_ingest_split_into_stages_and_memory(smoke: dict) -> None:
    ingest = smoke["raw"]["ingest"]
    for side in ("project", "baseline"):
        run = ingest[side][0]
        assert set(run["stages_s"]) == {"parse", "chunk", "embed", "index"}
        assert run["pages"] > 0 and run["chunks"] > 0 and not run["failed"]
        assert run["max_rss_mb"] > 50  # a child's own ru_maxrss, in MB
    assert ingest["project"][0]["reingest_statuses"] == ["skipped"]


def test_table_printed_and_markdown_written(smoke: dict) -> None:
    for text in (smoke["_stdout"], smoke["_md"]):
        assert "figure" in text and "project" in text and "baseline" in text
        assert "ingest: pages/s" in text and "recall@5" in text
    assert smoke["_md"].count("\n|") >= len(smoke["figures"])
