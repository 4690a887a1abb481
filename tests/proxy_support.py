"""Debian's nginx on a free loopback port, running ``deploy/nginx.conf`` (the file the
README tells people to install) in front of a ``streamlit run`` on another port."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from browser_support import ARTIFACTS, ROOT, free_port, server_env, wait_healthy

NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert found, "nginx is missing: `make test` installs it (scripts/install.sh --dev)"
    return found


def site_config(upstream_port: int, listen_port: int, path: str = "/") -> str:
    """``deploy/nginx.conf`` with its listen port, upstream port and location replaced."""
    text = NGINX_CONF.read_text()
    text, n_listen = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", text)
    text, n_pass = re.subn(r"proxy_pass http://127\.0\.0\.1:8501;",
                           f"proxy_pass http://127.0.0.1:{upstream_port};", text)
    text, n_location = re.subn(r"location / \{", f"location {path} {{", text)
    assert (n_listen, n_pass, n_location) == (1, 1, 1), "deploy/nginx.conf changed shape"
    return text


@contextmanager
def nginx_proxy(workdir: Path, upstream_port: int, path: str = "/", site: str | None = None,
                listen_port: int | None = None) -> Iterator[tuple[str, Path]]:
    """Run nginx (foreground, its own prefix dir) with ``site`` listening on
    ``listen_port`` (default: the shipped config for ``upstream_port`` on a free port).
    Yields its base URL and its access log."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = listen_port or free_port()
    site = site or site_config(upstream_port, port, path)
    temp_paths = "\n".join(f"  {kind}_temp_path {workdir / kind};"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    access_log = workdir / "access.log"
    # As root, workers would run as nobody and could not use the private temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {workdir / 'nginx.pid'};
error_log {workdir / 'error.log'} info;
events {{ worker_connections 256; }}
http {{
  log_format timed '$request $status $body_bytes_sent upstream=$upstream_status';
  access_log {access_log} timed;
{temp_paths}
{site}
}}
""")
    proc = subprocess.Popen([nginx_binary(), "-p", str(workdir), "-c", str(workdir / "nginx.conf"),
                             "-e", str(workdir / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError("nginx exited: " + (workdir / "error.log").read_text())
            try:
                urllib.request.urlopen(url + path, timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # nginx answers (the app may answer 404 outside its path)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, access_log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        ARTIFACTS.mkdir(exist_ok=True)
        for name in ("access.log", "error.log"):
            if (workdir / name).exists():
                shutil.copy(workdir / name, ARTIFACTS / f"nginx-{workdir.name}-{name}")


@contextmanager
def streamlit_under_path(data: Path, base_path: str,
                         **settings: str) -> Iterator[tuple[str, int, Path]]:
    """``streamlit run serve.py`` (as ``make run``) on a free loopback port under ``/<base_path>/``
    (``server.baseUrlPath``). Yields its URL (with the path), its port and its log."""
    port = free_port()
    log_path = data / "streamlit.log"
    data.mkdir(parents=True, exist_ok=True)
    # A refused cross-origin websocket makes Streamlit look up the machine's external IP
    # (checkip.amazonaws.com): send any such call to a closed local port instead.
    closed = f"http://127.0.0.1:{free_port()}"
    env = {**server_env(data, **settings), "HTTP_PROXY": closed, "HTTPS_PROXY": closed,
           "http_proxy": closed, "https_proxy": closed, "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.baseUrlPath", base_path],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/{base_path}"
    try:
        wait_healthy(url, proc)
        yield url, port, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "streamlit-proxied.log").write_text(log_path.read_text(errors="replace"))


def websocket_handshake(url: str, origin: str, host: str | None = None) -> int:
    """Open Streamlit's websocket (``<url>/_stcore/stream``) as a browser would, with
    ``origin`` (and ``host`` as the Host header, default the URL's); the HTTP status of the
    handshake (101 when accepted)."""
    parts = urllib.parse.urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {parts.path.rstrip('/')}/_stcore/stream HTTP/1.1\r\n"
               f"Host: {host or parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: streamlit\r\nOrigin: {origin}\r\n\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(1024)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])
