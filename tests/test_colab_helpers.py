"""``deploy/colab.py``, the notebook's helpers: the Drive backup of the data directory (a
real library, real SQLite in WAL mode), the choice of a prebuilt CUDA wheel, and reading
the tunnel's address. The notebook itself runs in ``test_colab_notebook.py``."""

from __future__ import annotations

import functools
import http.server
import shutil
import sqlite3
import sys
import threading
from pathlib import Path

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


def test_tunnel_url_is_read_from_cloudflared_log_lines() -> None:
    banner = ("2026-12-02T12:00:01Z INF |  https://bright-otter-lamp-reads.trycloudflare.com"
              "                 |")
    assert colab.tunnel_url(banner) == "https://bright-otter-lamp-reads.trycloudflare.com"
    assert colab.tunnel_url("INF Requesting new quick Tunnel on trycloudflare.com...") is None
    assert colab.tunnel_url("ERR https://api.trycloudflare.com/tunnel failed") is None


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
