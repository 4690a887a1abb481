"""Where a model download comes from: a Hugging Face ``owner/repo/path/file.gguf`` (fetched
from ``$HF_ENDPOINT``, default ``https://huggingface.co``; its SHA-256 and size come from
the hub's LFS metadata) or an ``http(s)://`` URL, and the HTTP requests that reach it
(``HF_TOKEN`` sent to the hub only; HTTP and connection failures as plain errors)."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rag.errors import (
    ChecksumMismatchError,
    DownloadError,
    InvalidSourceError,
    OfflineError,
)

DEFAULT_ENDPOINT = "https://huggingface.co"
USER_AGENT = "chat-with-your-documents/1.0"
_HF_SOURCE = re.compile(r"^(?:hf://)?([\w.-]+)/([\w.-]+)/((?:[\w.-]+/)*[\w.-]+\.gguf)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RemoteFile:
    """What will be downloaded: the URL, the file name it gets, and what the hub says."""

    url: str
    file_name: str
    sha256: str = ""
    size: int = 0
    repo: str = ""  # "owner/name" for a hub source


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def build_request(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    """A request for an http(s) ``url``, with ``HF_TOKEN`` when it goes to the hub."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise InvalidSourceError(f"{url!r} is not an http(s) URL.", source=url)
    request = urllib.request.Request(  # noqa: S310 (http(s) checked above)
        url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    token = os.environ.get("HF_TOKEN")
    if token and url.startswith(hub_endpoint()):
        # never forwarded to the CDN a hub redirect points to
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    return request


def open_request(request: urllib.request.Request, timeout: float):
    """The response to ``request``; HTTP and network failures raise a
    :class:`~rag.errors.DownloadError` or :class:`~rag.errors.OfflineError`."""
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) only)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise DownloadError(
                f"{request.full_url} needs permission (HTTP {exc.code}); for a gated model "
                "accept its licence on the hub and set HF_TOKEN.", url=request.full_url,
                status=exc.code) from exc
        if exc.code == 404:
            raise DownloadError(f"Not found: {request.full_url}", url=request.full_url,
                                status=404) from exc
        raise DownloadError(f"HTTP {exc.code} from {request.full_url}", url=request.full_url,
                            status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        host = urllib.parse.urlsplit(request.full_url).netloc
        raise OfflineError(f"No connection to {host}: {getattr(exc, 'reason', exc)}",
                           host=host) from exc


def _file_name(name: str) -> str:
    name = Path(name).name
    if not name.lower().endswith(".gguf") or name.startswith(".") or "\x00" in name:
        raise InvalidSourceError(f"{name!r} is not a .gguf file name.", source=name)
    return name


def resolve_source(source: str, sha256: str | None = None, timeout: float = 15.0) -> RemoteFile:
    """Where ``source`` is and what it should hash to. A hub source asks the hub's API for
    its LFS SHA-256 and size; ``sha256`` (hex) overrides or supplies the checksum."""
    source = source.strip()
    wanted = (sha256 or "").strip().lower()
    if wanted and not _SHA256.match(wanted):
        raise InvalidSourceError("--sha256 must be 64 hexadecimal digits.", source=source)
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        path = urllib.parse.unquote(urllib.parse.urlsplit(source).path)
        return RemoteFile(url=source, file_name=_file_name(path), sha256=wanted)
    match = _HF_SOURCE.match(source)
    if not match or ".." in source.split("/"):
        raise InvalidSourceError(
            f"{source!r} is neither an http(s) URL nor a Hugging Face owner/repo/file.gguf.",
            source=source)
    owner, name, path = match.groups()
    repo = f"{owner}/{name}"
    endpoint = hub_endpoint()
    url = f"{endpoint}/{repo}/resolve/main/{urllib.parse.quote(path)}"
    meta = _hub_file_metadata(endpoint, repo, path, timeout)
    lfs = meta.get("lfs") or {}
    published = str(lfs.get("sha256") or "").lower()
    if wanted and published and wanted != published:
        raise ChecksumMismatchError(
            f"--sha256 {wanted[:12]}… differs from the hub's {published[:12]}… for {path}.",
            file=path)
    return RemoteFile(url=url, file_name=_file_name(path), sha256=wanted or published,
                      size=int(lfs.get("size") or meta.get("size") or 0), repo=repo)


def _hub_file_metadata(endpoint: str, repo: str, path: str, timeout: float) -> dict:
    """The repo listing entry of ``path`` (``{"rfilename", "size", "lfs": {"sha256",
    "size"}}``), from ``/api/models/<repo>?blobs=true``."""
    url = f"{endpoint}/api/models/{repo}?blobs=true"
    with open_request(build_request(url, {"Accept": "application/json"}), timeout) as response:
        try:
            listing = json.loads(response.read(16 << 20))
        except ValueError as exc:
            raise DownloadError(f"The hub sent an unreadable listing for {repo}.",
                                url=url) from exc
    for entry in listing.get("siblings") or []:
        if entry.get("rfilename") == path:
            return entry
    raise DownloadError(f"{repo} has no file {path}.", url=url, status=404)
