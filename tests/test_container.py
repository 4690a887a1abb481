"""The container image: its Dockerfile linted by hadolint, its build context, and the entry
script it runs (``scripts/docker-entrypoint.sh``), run for real here since no Docker engine
is available: it serves the real app, adopts a baked-in model, refuses a data directory it
cannot write to with a clear message, and with ``RAG_BACKUP_DIR`` keeps the data on local
disk, backed up to that folder (an Azure Files share in the README).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import ROOT, free_port, wait_healthy

from deploy.backup import snapshot
from rag import gguf

ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) \
        or shutil.which("hadolint")
    assert found, "hadolint is missing: `make test` installs it (requirements-dev.txt)"
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "style",
                             str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The check above can fail: root user, unpinned base, shell-form entry point."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /app && pip install streamlit\nCMD streamlit run app.py\n")
    result = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "style",
                             str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3025" in result.stdout


def test_dockerfile_runs_as_non_root_with_volume_health_check_and_cuda_option() -> None:
    text = DOCKERFILE.read_text()
    final = text[text.rindex("\nFROM "):]  # the runtime stage
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user and not user[-1].startswith(("0", "root")), user
    assert re.search(r'^VOLUME \["/data"\]', final, re.M)
    assert re.search(r"^ENV .*RAG_DATA_DIR=/data", final, re.M | re.S)
    assert re.search(r"^HEALTHCHECK .*\n?.*/_stcore/health", final, re.M)
    assert re.search(r'^ENTRYPOINT \["/app/scripts/docker-entrypoint.sh"\]', final, re.M)
    assert "make install" in text  # the README's own install command
    test_stage = text[text.index("AS test"):text.rindex("\nFROM ")]
    assert 'CMD ["make", "test"]' in test_stage and "make install-dev" in test_stage
    assert re.search(r"ARG BACKEND=cpu", text) and "-DGGML_CUDA=on" in text
    assert "-DGGML_NATIVE=OFF" in text  # never a build tied to the builder's CPU
    assert os.access(ENTRYPOINT, os.X_OK)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: a pattern matches a path or any folder above it; ``**/`` matches at
    any depth; the last matching pattern wins and ``!`` re-includes."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate, pattern = pattern.startswith("!"), pattern.removeprefix("!")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_sends_the_code_but_not_environments_data_or_models() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for kept in ["app.py", "serve.py", "ui/auth.py", "Makefile", "requirements.txt",
                 "requirements-models.txt",
                 "scripts/install.sh", "scripts/docker-entrypoint.sh", "rag/service.py",
                 "rag/sample_docs", "pages/chat.py", ".streamlit/config.toml",
                 "bench/requirements.txt", "data/.gitkeep", "tests/test_proxy.py",
                 "notebooks/colab.ipynb", "Dockerfile", "deploy/nginx.conf",
                 "deploy/backup.py"]:
        assert not _ignored(kept, patterns), kept
    for dropped in [".venv", ".venv/bin/python", ".git/HEAD", "data/default/library.db",
                    "models/llama-2-7b-chat.Q4_K_M.gguf", "test-artifacts/x.png",
                    "rag/__pycache__/x.pyc"]:
        assert _ignored(dropped, patterns), dropped


def _entry_env(data: Path, models: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAG_", "STREAMLIT_")) and k != "PORT"}
    env.update(RAG_DATA_DIR=str(data), RAG_MODELS_DIR=str(models),
               STREAMLIT_SERVER_ADDRESS="127.0.0.1", **extra)
    return env


@pytest.mark.slow
def test_entrypoint_serves_the_app_and_adopts_the_baked_model(tmp_path: Path) -> None:
    data, models = tmp_path / "volume" / "data", tmp_path / "models"
    models.mkdir()
    packaged = gguf.resolve_model("", models)
    (models / "baked.gguf").symlink_to(packaged)
    (models / ".default-model").write_text("baked.gguf\n")
    port = free_port()
    log = tmp_path / "entry.log"
    with open(log, "wb") as out:
        # Streamlit options as environment variables, as on a cloud service (README).
        env = _entry_env(data, models, PORT=str(port), STREAMLIT_SERVER_BASE_URL_PATH="chatdocs")
        proc = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/chatdocs"
        wait_healthy(url, proc)
        # exec: the process the container starts *is* streamlit, so `docker stop` reaches it.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"streamlit" in cmdline and b"serve.py" in cmdline, cmdline
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            assert response.status == 200
            assert b'<div id="root">' in response.read()
        saved = json.loads((data / "settings.json").read_text())
        assert saved["model"] == "baked.gguf"
        assert "serving on port" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) is not None
        finally:
            if proc.poll() is None:
                proc.kill()


def _run_entry(env: dict[str, str], *args: str, as_user: list[str] | None = None,
               entrypoint: Path = ENTRYPOINT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(as_user or []), str(entrypoint), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_entrypoint_refuses_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a directory")
    result = _run_entry(_entry_env(data, tmp_path))
    assert result.returncode == 64
    assert "is a file, not a directory" in result.stderr
    assert data.read_text() == "not a directory"


def test_entrypoint_refuses_a_data_dir_it_cannot_write(tmp_path: Path) -> None:
    # Root writes anywhere: run the script as nobody, as the image runs it as a plain user,
    # over a folder others may enter (pytest's own temp dir is private to root).
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="chatdocs-ro-", dir="/tmp")) if as_root else tmp_path
    try:
        base.chmod(0o755)
        data = base / "data"
        data.mkdir()
        (data / "library.db").write_text("kept")
        if not as_root:
            data.chmod(0o555)
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
            if as_root else []
        entrypoint = ENTRYPOINT
        if as_root:  # nobody may not enter the clone's folder (mktemp -d makes it 0700):
            # run a copy; the data dir is checked before anything else of the app is used
            entrypoint = base / "app" / "scripts" / ENTRYPOINT.name
            entrypoint.parent.mkdir(parents=True)
            shutil.copy2(ENTRYPOINT, entrypoint)
            for folder in (entrypoint.parent, entrypoint.parent.parent):
                folder.chmod(0o755)
        result = _run_entry(_entry_env(data, base), as_user=as_user, entrypoint=entrypoint)
        data.chmod(0o755)
        assert result.returncode == 64, result.stderr
        assert "is not writable by user" in result.stderr and "chown" in result.stderr
        assert (data / "library.db").read_text() == "kept"
        assert sorted(p.name for p in data.iterdir()) == ["library.db"]
    finally:
        if as_root:
            shutil.rmtree(base)


def test_entrypoint_refuses_a_missing_model_bad_port_or_bad_backup(tmp_path: Path) -> None:
    result = _run_entry(_entry_env(tmp_path / "data", tmp_path, RAG_MODEL="nope.gguf"))
    assert result.returncode == 64 and "RAG_MODEL=nope.gguf not found" in result.stderr
    result = _run_entry(_entry_env(tmp_path / "data", tmp_path, PORT="http"))
    assert result.returncode == 64 and "PORT must be a TCP port number" in result.stderr
    (tmp_path / "share").write_text("a file, not the mounted share")
    result = _run_entry(_entry_env(tmp_path / "data", tmp_path,
                                   RAG_BACKUP_DIR=str(tmp_path / "share")))
    assert result.returncode == 64 and "cannot create RAG_BACKUP_DIR" in result.stderr
    result = _run_entry(_entry_env(tmp_path / "data", tmp_path, RAG_BACKUP_DIR=str(tmp_path),
                                   RAG_BACKUP_EVERY_S="soon"))
    assert result.returncode == 64 and "RAG_BACKUP_EVERY_S must be" in result.stderr


def _rows(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY rowid")]


@pytest.mark.slow
def test_entrypoint_restores_and_backs_up_the_data_dir(tmp_path: Path) -> None:
    """As on Azure App Service: the data dir on the container's own disk (empty at each
    start), the share at RAG_BACKUP_DIR. The last backup comes back before the app starts;
    a write still in SQLite's WAL reaches the share while the app runs and at its stop."""
    data, share, earlier = tmp_path / "local" / "data", tmp_path / "share", tmp_path / "old"
    earlier.mkdir()
    with sqlite3.connect(earlier / "notes.sqlite3") as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('antes')")
    db.close()
    snapshot(earlier, share)  # an earlier container's backup
    port = free_port()
    env = _entry_env(data, tmp_path / "models", PORT=str(port), RAG_BACKUP_DIR=str(share),
                     RAG_BACKUP_EVERY_S="1")
    with open(tmp_path / "entry.log", "wb") as out:
        proc = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    live = None
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"deploy.backup" in cmdline and b"serve.py" in cmdline, cmdline
        assert _rows(data / "notes.sqlite3") == ["antes"]  # restored before the app started
        live = sqlite3.connect(data / "notes.sqlite3")
        live.execute("PRAGMA journal_mode=WAL")
        live.execute("PRAGMA wal_autocheckpoint=0")  # commits stay in notes.sqlite3-wal
        live.execute("INSERT INTO notes VALUES ('durante')")
        live.commit()
        deadline = time.monotonic() + 30
        while _rows(share / "notes.sqlite3") != ["antes", "durante"]:
            assert time.monotonic() < deadline, "no snapshot while the app runs"
            time.sleep(0.3)
        live.execute("INSERT INTO notes VALUES ('al final')")
        live.commit()
        proc.send_signal(signal.SIGTERM)  # docker stop
        assert proc.wait(timeout=60) in (0, 128 + signal.SIGTERM)  # as streamlit itself
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if live is not None:
            live.close()
    assert _rows(share / "notes.sqlite3") == ["antes", "durante", "al final"]
    assert not list(share.glob("*-wal")) and not list(share.rglob("*.partial"))
    log = (tmp_path / "entry.log").read_text()
    assert "restored 1 files" in log and "last snapshot" in log, log


def test_entrypoint_runs_a_given_command_with_the_data_dir_and_build_flags(
        tmp_path: Path) -> None:
    """``docker run IMAGE make run``: the command gets the data dir and the llama.cpp flags
    the image was built with (so install.sh finds the environment up to date)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".llama-cmake-args").write_text("-DGGML_NATIVE=OFF -DGGML_AVX2=ON\n")
    env = _entry_env(tmp_path / "data", tmp_path, CHATDOCS_PYTHON=str(venv / "bin" / "python"))
    env.pop("LLAMA_CMAKE_ARGS", None)
    del env["RAG_DATA_DIR"]
    result = _run_entry(env, "sh", "-c", 'echo "$RAG_DATA_DIR|$LLAMA_CMAKE_ARGS"')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{ROOT / 'data'}|-DGGML_NATIVE=OFF -DGGML_AVX2=ON"
