"""A loopback stand-in for the Hugging Face hub (``HF_ENDPOINT``) and any model URL: it
serves files with ``Range`` support, the ``/api/models/<repo>?blobs=true`` listing with
their LFS SHA-256, and can misbehave on purpose (cut the connection, ignore ``Range``,
publish a wrong checksum)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hub:
    files: dict[str, bytes] = field(default_factory=dict)  # "owner/repo/path" -> bytes
    published_sha256: dict[str, str] = field(default_factory=dict)  # overrides
    cut_after: int = 0  # close the connection after this many body bytes (once)
    ignore_range: bool = False
    seconds_per_mb: float = 0.0  # throttle file bodies (to watch the progress)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Range header)
    url: str = ""

    def sha256(self, key: str) -> str:
        return self.published_sha256.get(key) or hashlib.sha256(self.files[key]).hexdigest()

    def file_url(self, key: str) -> str:
        owner, repo, path = key.split("/", 2)
        return f"{self.url}/{owner}/{repo}/resolve/main/{path}"

    def downloads(self) -> list[str]:
        """The Range header of each file request ("" for a whole-file request)."""
        return [rng for path, rng in self.requests if "/resolve/" in path]


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            hub.requests.append((self.path, self.headers.get("Range", "")))
            if self.path.startswith("/api/models/"):
                repo = self.path.removeprefix("/api/models/").split("?")[0]
                siblings = [{"rfilename": key.removeprefix(repo + "/"), "size": len(data),
                             "lfs": {"sha256": hub.sha256(key), "size": len(data),
                                     "pointerSize": 134}}
                            for key, data in hub.files.items() if key.startswith(repo + "/")]
                if not siblings:
                    self._send(404, b'{"error": "Repository not found"}', {})
                    return
                self._send(200, json.dumps({"id": repo, "siblings": siblings}).encode(),
                           {"Content-Type": "application/json"})
                return
            key = self.path.split("?")[0].lstrip("/").replace("/resolve/main/", "/", 1)
            data = hub.files.get(key)
            if data is None:
                self._send(404, b"Entry not found", {"Content-Type": "text/plain"})
                return
            start, status = 0, 200
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and not hub.ignore_range:
                start, status = int(rng[6:].split("-")[0]), 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if hub.cut_after and len(body) > hub.cut_after:
                self.wfile.write(body[:hub.cut_after])
                self.wfile.flush()
                hub.cut_after = 0
                self.close_connection = True
                self.connection.shutdown(2)  # a cut connection, mid-body
                return
            if hub.seconds_per_mb:
                for start_at in range(0, len(body), 1 << 18):
                    self.wfile.write(body[start_at:start_at + (1 << 18)])
                    time.sleep(hub.seconds_per_mb / 4)
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(hub: Hub) -> Iterator[Hub]:
    """Run ``hub`` on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
