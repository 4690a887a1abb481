"""Model downloads against a loopback hub (``HF_ENDPOINT``): hub and URL sources, the
published checksum, resume after a cut connection, a wrong checksum, no disk space,
offline; a failed download never leaves a model in the models folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path

import pytest
from hub_server import Hub, serve

from rag import downloads, gguf
from rag.cli import main
from rag.errors import (
    ChecksumMismatchError,
    DiskSpaceError,
    DownloadError,
    InvalidSourceError,
    OfflineError,
)

KEY = "acme/tiny-GGUF/tiny-model.Q4_K_M.gguf"
PAYLOAD = b"GGUF" + os.urandom(3 * (1 << 20) + 12345)


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("RAG_MODELS_DIR", str(folder))
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return folder


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    with serve(Hub(files={KEY: PAYLOAD})) as running:
        monkeypatch.setenv("HF_ENDPOINT", running.url)
        yield running


def models_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def test_hub_source_downloads_and_checks_the_published_sha256(hub, models_dir) -> None:
    seen = []
    remote = downloads.resolve_source(KEY)
    assert remote.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert remote.size == len(PAYLOAD)
    path = downloads.download(remote, models_dir, progress=lambda d, t: seen.append((d, t)))
    assert path == models_dir / "tiny-model.Q4_K_M.gguf"
    assert path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(seen) > 2  # streamed in blocks
    assert models_in(models_dir) == ["tiny-model.Q4_K_M.gguf"]


def test_cut_connection_keeps_nothing_in_models_and_resumes_with_range(hub,
                                                                      models_dir) -> None:
    hub.cut_after = 1 << 20
    with pytest.raises(DownloadError, match="run it again to resume"):
        downloads.download(KEY, models_dir, retries=0)
    assert not list(models_dir.glob("*.gguf"))
    part = downloads.partial_path(models_dir, "tiny-model.Q4_K_M.gguf")
    assert 0 < part.stat().st_size < len(PAYLOAD)
    have = part.stat().st_size

    path = downloads.download(KEY, models_dir, retries=0)
    assert path.read_bytes() == PAYLOAD
    assert hub.downloads() == ["", f"bytes={have}-"]
    assert not part.exists()


def test_cut_connection_is_retried_within_one_call(hub, models_dir) -> None:
    hub.cut_after = 1 << 20
    path = downloads.download(KEY, models_dir, retries=2)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()
    assert hub.downloads()[0] == "" and hub.downloads()[1].startswith("bytes=")


def test_server_without_range_support_restarts_cleanly(hub, models_dir) -> None:
    hub.cut_after, hub.ignore_range = 1 << 20, True
    path = downloads.download(KEY, models_dir, retries=1)
    assert path.read_bytes() == PAYLOAD


def test_wrong_published_checksum_leaves_nothing(hub, models_dir) -> None:
    hub.published_sha256[KEY] = "0" * 64
    with pytest.raises(ChecksumMismatchError, match="Nothing was kept"):
        downloads.download(KEY, models_dir)
    assert models_in(models_dir) == []


def test_url_with_wrong_sha256_option_leaves_nothing(hub, models_dir, capsys) -> None:
    url = hub.file_url(KEY)
    assert main(["models", "pull", url, "--sha256", "ab" * 32, "-q"]) == 1
    assert "SHA-256" in capsys.readouterr().err
    assert not list(models_dir.glob("**/*.gguf*"))
    # the right one is accepted
    assert main(["models", "pull", url, "--sha256", hashlib.sha256(PAYLOAD).hexdigest(),
                 "-q"]) == 0
    assert (models_dir / "tiny-model.Q4_K_M.gguf").read_bytes() == PAYLOAD


def test_sha256_option_that_contradicts_the_hub_is_refused(hub, models_dir) -> None:
    with pytest.raises(ChecksumMismatchError):
        downloads.resolve_source(KEY, sha256="cd" * 32)
    assert hub.downloads() == []


def test_not_enough_disk_is_refused_before_downloading(hub, models_dir, monkeypatch) -> None:
    usage = shutil.disk_usage("/")
    monkeypatch.setattr(downloads.shutil, "disk_usage",
                        lambda _p: usage._replace(free=len(PAYLOAD) // 2))
    with pytest.raises(DiskSpaceError, match="Not enough disk space"):
        downloads.download(KEY, models_dir)
    assert hub.downloads() == []
    assert models_in(models_dir) == []


def test_error_page_instead_of_a_model_is_not_kept(hub, models_dir) -> None:
    hub.files["acme/tiny-GGUF/page.gguf"] = b"<html>Sign in to continue</html>"
    with pytest.raises(DownloadError, match="not a GGUF"):
        downloads.download(hub.file_url("acme/tiny-GGUF/page.gguf"), models_dir)
    assert not list(models_dir.glob("**/*.gguf*"))


def test_missing_file_and_bad_sources(hub, models_dir) -> None:
    with pytest.raises(DownloadError, match="has no file"):
        downloads.resolve_source("acme/tiny-GGUF/other.gguf")
    with pytest.raises(DownloadError, match="Not found"):
        downloads.download(hub.url + "/nothing/here.gguf", models_dir)
    for bad in ("just-a-name", "acme/repo/../../etc/passwd.gguf", "acme/repo/model.bin",
                "ftp://example.org/m.gguf"):
        with pytest.raises(InvalidSourceError):
            downloads.resolve_source(bad)
    with pytest.raises(InvalidSourceError, match="64 hexadecimal"):
        downloads.resolve_source(KEY, sha256="xyz")
    assert models_in(models_dir) == []


def test_offline_says_so_plainly(models_dir, monkeypatch, capsys) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(OfflineError, match=r"No connection to 127\.0\.0\.1"):
        downloads.resolve_source(KEY)
    assert main(["models", "pull", KEY, "-q"]) == 1
    assert "No connection" in capsys.readouterr().err
    assert models_in(models_dir) == []


def test_cli_pulls_the_real_gguf_which_the_app_then_lists(models_dir, monkeypatch,
                                                          capsys) -> None:
    real = gguf.default_model_path().read_bytes()
    key = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct.Q4_1.gguf"
    with serve(Hub(files={key: real})) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert main(["models", "pull", key, "-q"]) == 0
    path = models_dir / "smollm2-135m-instruct.Q4_1.gguf"
    assert capsys.readouterr().out.strip() == str(path)
    assert path.read_bytes() == real
    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert "smollm2-135m-instruct.Q4_1\tQ4_1\t" in listed
    info = gguf.model_info(path)
    assert (info.architecture, info.quantization) == ("llama", "Q4_1")


def test_gallery_lists_curated_models_with_machine_figures(models_dir, capsys) -> None:
    from rag import gallery

    entries = gallery.load_gallery()
    assert any("Llama-2-7B-Chat" in m.source and m.quantization == "Q4_K_M" for m in entries)
    small = [m for m in entries if m.parameters != "7B"]
    assert len(small) >= 3 and all(m.quantization == "Q4_K_M" for m in small)
    assert all(m.size_gb > 0 and m.ram_gb > m.size_gb and m.licence for m in entries)
    models_dir.mkdir()
    (models_dir / entries[0].file_name).write_bytes(b"GGUF")
    assert main(["models", "gallery"]) == 0
    out = capsys.readouterr().out
    assert f"{entries[0].id}\t{entries[0].name}" in out and "installed" in out
    assert "tok/s" in out and "Llama 2 Community License" in out
    fast, slow = (gallery.estimate_tokens_per_s(size, 2, bandwidth_gbps=10.0)
                  for size in (1.0, 4.0))
    assert fast == pytest.approx(4 * slow, rel=0.05) and fast > 0
