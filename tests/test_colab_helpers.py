"""``deploy/colab.py``, the notebook's helpers: the Drive backup of the data directory (a
real library, real SQLite in WAL mode); the GPU as nvidia-smi and nvcc report it, and a
CUDA wheel (cached, prebuilt from a loopback index, or built with the GPU's architecture);
the tunnel agents (stub cloudflared and ngrok executables); the app started with the
tunnel's origin allowed on its websocket. The notebook itself runs in
``test_colab_notebook.py``."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from browser_support import ROOT, free_port
from proxy_support import websocket_handshake

from deploy import colab
from rag.service import RagService
from rag.settings import load_settings


def test_prebuilt_cuda_wheel_tags_follow_minor_version_compatibility() -> None:
    assert colab.prebuilt_tags("12.4") == ["cu124", "cu123", "cu122", "cu121"]
    assert colab.prebuilt_tags("12.8")[0] == "cu125"  # newer 12.x runs 12.5 builds
    assert colab.prebuilt_tags("12.0") == []
    assert colab.prebuilt_tags("11.8") == [] and colab.prebuilt_tags("13.0") == []


def test_wheel_cache_key_names_python_cuda_and_gpu_architecture() -> None:
    gpu = colab.Gpu("Tesla T4", "7.5", "12.5")
    key = colab.wheel_cache_key(gpu)
    assert key.startswith(f"llama-cpp-python-{colab.LLAMA_VERSION}-cp3")
    assert key.endswith("-cuda12.5-sm75")


def test_llama_version_matches_the_install_script() -> None:
    install = (Path(colab.__file__).parent.parent / "scripts" / "install.sh").read_text()
    assert f"LLAMA_VERSION={colab.LLAMA_VERSION}\n" in install


def test_tunnel_url_is_read_from_cloudflared_and_ngrok_log_lines() -> None:
    banner = ("2026-12-02T12:00:01Z INF |  https://bright-otter-lamp-reads.trycloudflare.com"
              "                 |")
    assert colab.tunnel_url(banner) == "https://bright-otter-lamp-reads.trycloudflare.com"
    assert colab.tunnel_url("INF Requesting new quick Tunnel on trycloudflare.com...") is None
    assert colab.tunnel_url("ERR https://api.trycloudflare.com/tunnel failed") is None
    assert colab.ngrok_url('{"msg":"started tunnel","url":"tcp://0.tcp.ngrok.io:1"}') is None
    assert colab.ngrok_url("[1, 2]") is None and colab.ngrok_url("t=1 lvl=info") is None


def test_snapshot_keeps_transactions_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    data, backup = tmp_path / "data", tmp_path / "drive"
    data.mkdir()
    db = sqlite3.connect(data / "chats.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE turns (text TEXT)")
    db.executemany("INSERT INTO turns VALUES (?)", [("hola",), ("¿qué tal?",)])
    db.commit()  # committed, but only in chats.sqlite3-wal: a plain copy would miss it
    plain = tmp_path / "plain.sqlite3"
    shutil.copyfile(data / "chats.sqlite3", plain)
    assert sqlite3.connect(plain).execute(
        "SELECT name FROM sqlite_master WHERE name='turns'").fetchall() == []

    assert colab.snapshot(data, backup) == 1
    assert [p.name for p in backup.iterdir()] == ["chats.sqlite3"]  # one file, no -wal
    rows = sqlite3.connect(backup / "chats.sqlite3").execute("SELECT text FROM turns")
    assert [r[0] for r in rows] == ["hola", "¿qué tal?"]
    db.close()


def test_snapshot_and_restore_carry_a_real_library_to_a_new_session(tmp_path: Path) -> None:
    data, drive, fresh = tmp_path / "session1", tmp_path / "drive", tmp_path / "session2"
    doc = tmp_path / "faro.txt"
    doc.write_text("El faro de Punta Lagunaverde mide 47 metros y se construyó en 1911.\n")
    service = RagService(load_settings(data))
    assert service.ingest_file(doc).ok
    assert colab.snapshot(data, drive) > 0
    (data / "notes.txt").write_text("later")
    colab.snapshot(data, drive)
    (data / "notes.txt").unlink()
    colab.snapshot(data, drive)
    assert not (drive / "notes.txt").exists()  # deletions are mirrored

    assert colab.restore(drive, fresh) > 0
    restored = RagService(load_settings(fresh))
    assert restored.stats()[0] == 1
    top = restored.search("¿Cuánto mide el faro?", k=1)[0]
    assert top.file_name == "faro.txt" and "47 metros" in top.text
    # Never over existing data, and an empty data dir never wipes the backup.
    assert colab.restore(drive, fresh) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    before = sorted(p.name for p in drive.rglob("*"))
    colab.snapshot(empty, drive)
    assert sorted(p.name for p in drive.rglob("*")) == before


def _wheel(folder: Path, version: str) -> Path:
    """A minimal valid wheel of ``llama-cpp-python`` for this Python and platform."""
    import sysconfig
    import zipfile

    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    name = f"llama_cpp_python-{version}-{py}-{py}-{platform}.whl"
    info = f"llama_cpp_python-{version}.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: llama_cpp_python\n"
                                 f"Version: {version}\n",
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                              f"Tag: {py}-{py}-{platform}\n",
             "llama_cpp/__init__.py": ""}
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / name, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return folder / name


def test_cuda_wheel_prefers_the_drive_cache_then_the_closest_prebuilt(
        tmp_path: Path, monkeypatch) -> None:
    """pip itself, against a loopback wheel index that has a cu124 build but no cu125 one:
    a CUDA 12.5 runtime gets the cu124 wheel, cached; the next session uses the cache."""
    root = tmp_path / "index"
    wheel = _wheel(root / "whl" / "cu124" / "llama-cpp-python", colab.LLAMA_VERSION)
    (root / "whl" / "cu124" / "llama-cpp-python" / "index.html").write_text(
        f'<a href="{wheel.name}">{wheel.name}</a>\n')
    _wheel(root / "whl" / "cu125" / "elsewhere", "0.0.1")  # cu125 has no llama-cpp-python
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(colab, "PREBUILT_INDEX",
                        f"http://127.0.0.1:{server.server_port}/whl/{{tag}}")
    gpu, cache = colab.Gpu("Tesla T4", "7.5", "12.5"), tmp_path / "drive" / "wheels"
    try:
        got = colab.llama_cuda_wheel(gpu, cache)
    finally:
        server.shutdown()
    assert got.name == wheel.name and got.parent == cache / colab.wheel_cache_key(gpu)
    assert got.read_bytes() == wheel.read_bytes()
    assert colab.llama_cuda_wheel(gpu, cache) == got  # the index is gone: from the cache


def _tool(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


NVCC = "echo 'nvcc: NVIDIA (R) Cuda compiler driver'\necho 'Cuda compilation tools, release 12.5'\n"


def _gpu_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smi: str,
               nvcc: str | None = NVCC, nvcc_on_path: bool = True) -> None:
    bin_dir, cuda_bin = tmp_path / "bin", tmp_path / "cuda" / "bin"
    _tool(bin_dir / "nvidia-smi", smi)
    if nvcc is not None:
        _tool((bin_dir if nvcc_on_path else cuda_bin) / "nvcc", nvcc)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(colab, "CUDA_BIN", str(cuda_bin))


@pytest.mark.parametrize(("smi", "nvcc", "on_path", "expected"), [
    ("printf 'Tesla T4, 7.5\\nTesla T4, 7.5\\n'\n", NVCC, True,
     colab.Gpu("Tesla T4", "7.5", "12.5")),
    ("echo 'NVIDIA A100-SXM4-40GB, 8.0'\n", NVCC, False,  # nvcc only in /usr/local/cuda/bin
     colab.Gpu("NVIDIA A100-SXM4-40GB", "8.0", "12.5")),
    ("echo 'Tesla T4, 7.5'\n", None, True, None),  # no CUDA toolkit
    ("echo 'NVIDIA-SMI has failed' >&2; exit 9\n", NVCC, True, None),  # no driver
    ("exit 0\n", NVCC, True, None),  # no GPU listed
    ("echo 'Tesla T4, [N/A]'\n", NVCC, True, None),
])
def test_detect_gpu_reads_nvidia_smi_and_nvcc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              smi: str, nvcc: str | None, on_path: bool,
                                              expected: colab.Gpu | None) -> None:
    _gpu_tools(tmp_path, monkeypatch, smi, nvcc, on_path)
    assert colab.detect_gpu() == expected


def test_cuda_wheel_is_built_for_the_detected_gpu_when_no_prebuilt_one_fits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _gpu_tools(tmp_path, monkeypatch, "echo 'NVIDIA A10G, 8.6'\n")
    gpu = colab.detect_gpu()
    assert gpu is not None and gpu.arch == "86"
    calls: list[tuple[list[str], dict[str, str] | None]] = []

    def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
        calls.append((command, kwargs.get("env")))
        if "download" in command:  # the prebuilt index has nothing for this runtime
            return subprocess.CompletedProcess(command, 1, "", "No matching distribution")
        assert "wheel" in command and kwargs.get("check") is True, command
        _wheel(Path(command[command.index("-w") + 1]), colab.LLAMA_VERSION)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(colab.subprocess, "run", run)
    cache = tmp_path / "drive" / "wheels"
    got = colab.llama_cuda_wheel(gpu, cache, python="/venv/bin/python")
    downloads = [c for c, _ in calls if "download" in c]
    assert [c[c.index("--index-url") + 1].rsplit("/", 1)[1] for c in downloads] == \
        ["cu125", "cu124", "cu123", "cu122", "cu121"]
    (build, env), = [(c, e) for c, e in calls if "wheel" in c]
    assert build[:3] == ["/venv/bin/python", "-m", "pip"]
    assert f"llama-cpp-python=={colab.LLAMA_VERSION}" in build
    assert env is not None
    flags = env["CMAKE_ARGS"].split()
    assert "-DGGML_CUDA=on" in flags and "-DCMAKE_CUDA_ARCHITECTURES=86" in flags
    assert "-DGGML_NATIVE=OFF" in flags  # the wheel is cached for other VMs
    assert got.parent == cache / colab.wheel_cache_key(gpu) and got.suffix == ".whl"
    calls.clear()
    assert colab.llama_cuda_wheel(gpu, cache) == got and calls == []  # cached on Drive


BANNER = ("2026-12-02T12:00:00Z INF Requesting new quick Tunnel on trycloudflare.com...\n"
          "2026-12-02T12:00:01Z INF +----------------------------------------------+\n"
          "2026-12-02T12:00:01Z INF |  Your quick Tunnel has been created! Visit it at |\n"
          "2026-12-02T12:00:01Z INF |  https://bright-otter-lamp-reads.trycloudflare.com |\n")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_start_tunnel_runs_cloudflared_and_keeps_reading_its_log(tmp_path: Path) -> None:
    (tmp_path / "banner").write_text(BANNER)
    _tool(tmp_path / "cloudflared", f'echo "$@" > {tmp_path}/args\ncat {tmp_path}/banner >&2\n'
          f"yes 'INF heartbeat' | head -n 20000 >&2\ntouch {tmp_path}/drained\nexec sleep 600\n")
    url, proc = colab.start_tunnel(8501, tmp_path, timeout_s=30)
    try:
        assert url == "https://bright-otter-lamp-reads.trycloudflare.com"
        assert (tmp_path / "args").read_text().split() == \
            ["tunnel", "--no-autoupdate", "--url", "http://127.0.0.1:8501"]
        for _ in range(100):  # 300 kB of log after the URL: a full pipe would block it
            if (tmp_path / "drained").exists():
                break
            threading.Event().wait(0.1)
        assert (tmp_path / "drained").exists() and proc.poll() is None
    finally:
        _stop(proc)


@pytest.mark.parametrize("script", ["echo 'INF Requesting new quick Tunnel' >&2\n"
                                    "echo $$ > {pid}\nexec sleep 600\n",  # silent
                                    "echo 'ERR failed to request quick Tunnel' >&2\nexit 1\n"])
def test_start_tunnel_gives_up_after_its_timeout(tmp_path: Path, script: str) -> None:
    _tool(tmp_path / "cloudflared", script.format(pid=tmp_path / "pid"))
    raised: list[BaseException] = []

    def start() -> None:
        try:
            colab.start_tunnel(8501, tmp_path, timeout_s=1)
        except RuntimeError as exc:
            raised.append(exc)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(timeout=20)
    try:
        assert not thread.is_alive(), "start_tunnel ignored its timeout"
        assert raised and "cloudflared gave no URL" in str(raised[0])
    finally:
        if (tmp_path / "pid").exists():
            with contextlib.suppress(ProcessLookupError):  # start_tunnel stopped it
                os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)


def test_start_tunnel_downloads_and_runs_ngrok_with_the_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "log").write_text(
        '{"lvl":"info","msg":"starting web service","addr":"127.0.0.1:4040"}\n'
        '{"addr":"http://127.0.0.1:8501","lvl":"info","msg":"started tunnel",'
        '"name":"command_line","url":"https://1a2b-34-56.ngrok-free.app"}\n')
    agent = f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat {tmp_path}/log\nexec sleep 600\n'.encode()
    archive = tmp_path / "ngrok-v3-stable-linux-amd64.tgz"
    with tarfile.open(archive, "w:gz") as tgz:
        member = tarfile.TarInfo("ngrok")
        member.size, member.mode = len(agent), 0o755
        tgz.addfile(member, io.BytesIO(agent))
    monkeypatch.setattr(colab, "NGROK_URL", archive.as_uri())
    workdir = tmp_path / "content"
    workdir.mkdir()
    url, proc = colab.start_tunnel(8501, workdir, ngrok_token="2abcTOKEN", timeout_s=30)
    try:
        assert url == "https://1a2b-34-56.ngrok-free.app"
        assert (tmp_path / "args").read_text().split() == \
            ["http", "http://127.0.0.1:8501", "--authtoken", "2abcTOKEN",
             "--log", "stdout", "--log-format", "json"]
        assert os.access(workdir / "ngrok", os.X_OK)
    finally:
        _stop(proc)


@pytest.mark.slow
def test_the_tunnel_origin_may_open_the_websocket(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit 1.67 accepts a websocket whose Origin matches the Host it receives, or whose
    host name is localhost or listed in server.corsAllowedOrigins (what ``public_origin``
    sets); anything else is refused with 403. A tunnel that passes the public Host on is
    same-origin anyway; one that rewrites Host to 127.0.0.1 needs the list."""
    public, other = "https://bright-otter-lamp-reads.trycloudflare.com", "https://elsewhere.example"
    for key in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)
    closed = f"http://127.0.0.1:{free_port()}"  # a refused origin makes Streamlit look up
    env = {"RAG_DATA_DIR": str(tmp_path / "data"), "RAG_AUTH": "off",  # the external IP
           "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "NO_PROXY": "127.0.0.1,localhost"}
    seen = {}
    for allowed in (public, None):
        port = free_port()
        app = colab.start_app(ROOT, port, env, tmp_path / "app.log", public_origin=allowed)
        url = f"http://127.0.0.1:{port}"
        try:
            seen[allowed] = (websocket_handshake(url, public), websocket_handshake(url, other),
                             websocket_handshake(url, public, host=public[8:]),
                             websocket_handshake(url, url))
        finally:
            os.killpg(app.pid, signal.SIGTERM)
            app.wait(timeout=30)
    assert seen[public] == (101, 403, 101, 101)
    assert seen[None] == (403, 403, 101, 101)
