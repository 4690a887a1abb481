"""``deploy/colab.py``, the notebook's tunnel helpers: the public URL read from the agents'
logs, the agents themselves (stub cloudflared and ngrok executables), and the app started
with the tunnel's origin allowed on its websocket. The notebook itself runs in
``test_colab_notebook.py``."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest
from browser_support import ROOT, free_port
from proxy_support import websocket_handshake
from stub_tools import stub_tool

from deploy import colab


def test_tunnel_url_is_read_from_cloudflared_and_ngrok_log_lines() -> None:
    banner = ("2026-12-02T12:00:01Z INF |  https://bright-otter-lamp-reads.trycloudflare.com"
              "                 |")
    assert colab.tunnel_url(banner) == "https://bright-otter-lamp-reads.trycloudflare.com"
    assert colab.tunnel_url("INF Requesting new quick Tunnel on trycloudflare.com...") is None
    assert colab.tunnel_url("ERR https://api.trycloudflare.com/tunnel failed") is None
    assert colab.ngrok_url('{"msg":"started tunnel","url":"tcp://0.tcp.ngrok.io:1"}') is None
    assert colab.ngrok_url("[1, 2]") is None and colab.ngrok_url("t=1 lvl=info") is None


BANNER = ("2026-12-02T12:00:00Z INF Requesting new quick Tunnel on trycloudflare.com...\n"
          "2026-12-02T12:00:01Z INF +----------------------------------------------+\n"
          "2026-12-02T12:00:01Z INF |  Your quick Tunnel has been created! Visit it at |\n"
          "2026-12-02T12:00:01Z INF |  https://bright-otter-lamp-reads.trycloudflare.com |\n")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_start_tunnel_runs_cloudflared_and_keeps_reading_its_log(tmp_path: Path) -> None:
    (tmp_path / "banner").write_text(BANNER)
    stub_tool(tmp_path / "cloudflared",
              f'echo "$@" > {tmp_path}/args\ncat {tmp_path}/banner >&2\n'
              f"yes 'INF heartbeat' | head -n 20000 >&2\ntouch {tmp_path}/drained\n"
              "exec sleep 600\n")
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
    stub_tool(tmp_path / "cloudflared", script.format(pid=tmp_path / "pid"))
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
