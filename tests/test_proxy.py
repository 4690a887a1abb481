"""The app behind a real reverse proxy, as when it is shown through a tunnel: Debian's nginx
running ``deploy/nginx.conf`` in front of ``streamlit run`` (real models) under ``/chatdocs/``,
with accounts and Streamlit's XSRF protection on.

HTTP checks show what each proxy setting is for: the XSRF cookie and header pass through
(an upload without them is refused with 403, with them it reaches the app), the websocket
is accepted only when the proxy passes the browser's Host (nginx's default Host gets 403),
and nginx's default 1 MB body limit refuses uploads (413). Behind a TLS tunnel in front of
nginx, the visitor's ``X-Forwarded-Proto: https`` reaches the app (a loopback echo upstream
shows what nginx sends) and the login cookie is marked ``Secure``. A real browser then logs
in (the login cookie survives a refresh), uploads a PDF and asks about it through the proxy,
with no failed request on the way.
"""

from __future__ import annotations

import http.client
import http.server
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, server_env
from pdf_factory import make_pdf
from proxy_support import nginx_proxy, site_config, streamlit_under_path, websocket_handshake

BASE = "chatdocs"
PAGES = [
    "Annual report of the Lagunaverde cooperative.\nThis document summarizes the year.",
    "The Punta Lagunaverde lighthouse.\nThe Punta Lagunaverde lighthouse is 47 metres tall.\n"
    "It was built in 1911 by the engineer Tomas Arriaga.",
]
USER, PASSWORD = "ana", "faro de punta lagunaverde"
QUESTION = "How tall is the Punta Lagunaverde lighthouse?"
PDF_NAME = "lighthouse-behind-proxy.pdf"


class Stack:
    """The app, nginx with the shipped config, and nginx with a naive one."""

    def __init__(self, app: str, app_port: int, log: Path, proxy: str, access_log: Path,
                 naive: str) -> None:
        self.app, self.app_port, self.log = app, app_port, log
        self.proxy, self.access_log, self.naive = proxy, access_log, naive


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("proxy")
    data = root / "data"
    added = subprocess.run([sys.executable, "-m", "rag", "users", "add", USER, "--admin",
                            "--password-stdin"], input=PASSWORD + "\n", text=True,
                           capture_output=True, cwd=ROOT, env=server_env(data), timeout=120)
    assert added.returncode == 0, added.stderr
    # Short answers: the test is about the way through the proxy, not the answer.
    with streamlit_under_path(data, BASE, auth="on", max_tokens="64") as (app, app_port, log):
        naive_port = free_port()
        # The common mistake: nginx's default Host ($proxy_host) and body limit (1 MB).
        naive_site = site_config(app_port, naive_port, f"/{BASE}/") \
            .replace("proxy_set_header Host $http_host;", "") \
            .replace("client_max_body_size 210m;", "")
        with nginx_proxy(root / "nginx", app_port, f"/{BASE}/") as (proxy, access_log), \
                nginx_proxy(root / "naive", app_port, site=naive_site,
                            listen_port=naive_port) as (naive, _):
            yield Stack(app, app_port, log, f"{proxy}/{BASE}", access_log, f"{naive}/{BASE}")


def _request(url: str, method: str = "GET", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _status_from_headers(url: str, method: str, headers: dict[str, str]) -> int:
    """The status a server answers to a request's headers, before any body is sent."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest(method, parts.path)
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "chatdocs-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode() \
        + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _xsrf_cookie(base_url: str) -> str:
    status, headers, body = _request(f"{base_url}/_stcore/health")
    assert (status, body) == (200, b"ok")
    cookie = headers.get("Set-Cookie", "")
    assert cookie.startswith("_streamlit_xsrf="), headers.items()
    assert "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie, cookie
    return cookie.split(";", 1)[0].split("=", 1)[1]


def test_uploads_keep_xsrf_protection_through_the_proxy(stack: Stack) -> None:
    token = _xsrf_cookie(stack.proxy)  # set through the proxy, on the health check
    upload = f"{stack.proxy}/_stcore/upload_file/no-such-session/file-1"
    body, content_type = _multipart(1000)
    status, _, _ = _request(upload, "PUT", body, {"Content-Type": content_type})
    assert status == 403, "an upload without the XSRF token must be refused"
    other = _xsrf_cookie(stack.proxy)  # another visitor's token
    assert other != token
    wrong = {"Content-Type": content_type, "Cookie": f"_streamlit_xsrf={token}",
             "X-Xsrftoken": other}
    assert _request(upload, "PUT", body, wrong)[0] == 403
    good = {"Content-Type": content_type, "Cookie": f"_streamlit_xsrf={token}",
            "X-Xsrftoken": token}
    status, _, reply = _request(upload, "PUT", body, good)
    # Past the XSRF check, the app itself answers: this session does not exist.
    assert status == 400 and b"Invalid session_id" in reply, (status, reply)

    big, content_type = _multipart(2 * 1024 * 1024)
    good["Content-Type"] = content_type
    # A 2 MB upload passes the shipped proxy's body limit and reaches the app. Asked on the
    # headers alone: the app refuses an unknown session before reading the body and closes
    # the connection, so nginx still streaming a body to it would get a reset (502), a race.
    assert _status_from_headers(upload, "PUT",
                                {**good, "Content-Length": str(len(big))}) == 400
    # nginx refuses on the headers alone (and may reset a client still sending the body).
    assert _status_from_headers(upload.replace(stack.proxy, stack.naive), "PUT",
                                {**good, "Content-Length": str(len(big))}) == 413


def test_websocket_needs_the_visitors_host_passed_on(stack: Stack) -> None:
    """As through a tunnel: the browser is on a public name (here ``chatdocs.test``) and
    sends it as Host and Origin."""

    def handshake(url: str) -> int:
        port = urllib.parse.urlsplit(url).port
        return websocket_handshake(url, f"http://chatdocs.test:{port}",
                                   host=f"chatdocs.test:{port}")

    assert handshake(stack.proxy) == 101
    # nginx's default Host is the upstream's (127.0.0.1:<app port>): Origin and Host
    # differ, and Streamlit refuses the websocket (the page would spin forever).
    assert handshake(stack.naive) == 403


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers with the X-Forwarded-Proto header it received (or "-")."""

    def do_GET(self) -> None:
        body = (self.headers.get("X-Forwarded-Proto") or "-").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_nginx_passes_on_https_from_a_tls_tunnel_in_front_of_it(tmp_path: Path) -> None:
    """cloudflared (or a load balancer) ends TLS and talks plain HTTP to nginx: nginx's own
    $scheme is "http", the visitor's scheme arrives as X-Forwarded-Proto."""
    echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    try:
        with nginx_proxy(tmp_path / "nginx", echo.server_address[1]) as (proxy, _):
            def forwarded(headers: dict[str, str]) -> bytes:
                return _request(f"{proxy}/", headers=headers)[2]

            assert forwarded({"X-Forwarded-Proto": "https"}) == b"https"
            assert forwarded({"X-Forwarded-Proto": "HTTPS"}) == b"https"
            assert forwarded({}) == b"http"  # nginx's own scheme
            # Only ever upgraded: anything else is replaced by nginx's own scheme.
            assert forwarded({"X-Forwarded-Proto": "gopher"}) == b"http"
    finally:
        echo.shutdown()
        echo.server_close()


def _log_in(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Entrar")).to_be_visible(timeout=60_000)
    page.get_by_label("Usuario").fill(USER)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()


@pytest.mark.browser
@pytest.mark.slow
def test_login_cookie_is_secure_behind_a_tls_tunnel(stack: Stack) -> None:
    """The browser's requests arrive as from a TLS tunnel (X-Forwarded-Proto: https): the
    cookie set by serve.py's session-start route, through nginx, carries Secure."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(extra_http_headers={"X-Forwarded-Proto": "https"})
            page = context.new_page()
            page.goto(f"{stack.proxy}/")
            with page.expect_response(lambda r: "/api/session/start" in r.url,
                                      timeout=60_000) as started:
                _log_in(page)
            cookies = [value for name, value in
                       ((h["name"].lower(), h["value"]) for h in started.value.headers_array())
                       if name == "set-cookie" and value.startswith("rag_session=")]
        finally:
            browser.close()
    assert len(cookies) == 1, cookies
    attributes = [part.strip().lower() for part in cookies[0].split(";")]
    assert "secure" in attributes and "httponly" in attributes, cookies
    assert f"path=/{BASE}/" in attributes, cookies


def _idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_ms)


@pytest.mark.browser
@pytest.mark.slow
def test_browser_uploads_and_asks_through_the_proxy(stack: Stack, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    pdf = tmp_path / PDF_NAME
    pdf.write_bytes(make_pdf(PAGES))
    failed: list[str] = []
    sockets: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)
            page.on("response", lambda r: failed.append(f"{r.status} {r.request.method} "
                                                        f"{r.url}") if r.status >= 400 else None)
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.goto(f"{stack.proxy}/")
            # Log in: the cookie is set by serve.py's route, reached through the proxy.
            _log_in(page)
            heading = page.get_by_role("heading", name="Chat con tus documentos")
            expect(heading).to_be_visible(timeout=60_000)
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["rag_session"]["path"] == f"/{BASE}/"
            assert cookies["rag_session"]["httpOnly"] and "_streamlit_xsrf" in cookies
            page.reload()  # the login survives a refresh through the proxy
            expect(heading).to_be_visible(timeout=60_000)
            page.get_by_test_id("stSidebarNav").get_by_text("Documentos").click()
            expect(page.get_by_role("heading", name="Documentos")).to_be_visible()

            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(pdf))
            add = page.get_by_role("button", name=re.compile(r"Añadir 1 archivo"))
            expect(add).to_be_enabled()
            add.click()
            expect(page.get_by_text(f"{PDF_NAME} — añadido")).to_be_visible(timeout=180_000)
            _idle(page)

            page.get_by_test_id("stSidebarNav").get_by_text("Chat").click()
            box = page.get_by_test_id("stChatInput").locator("textarea")
            expect(box).to_be_enabled()
            box.fill(QUESTION)
            box.press("Enter")
            sources = page.get_by_text(re.compile(rf"Fuentes:.*{re.escape(PDF_NAME)}, pág\. 2"))
            expect(sources.first).to_be_visible(timeout=240_000)
            _idle(page, 240_000)
            assert page.get_by_test_id("stChatMessage").nth(1).inner_text().strip()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "proxy-chat.png"))
        finally:
            browser.close()
    assert not failed, failed
    proxy_origin = stack.proxy.rsplit("/", 1)[0].replace("http://", "ws://")
    assert sockets and all(url.startswith(f"{proxy_origin}/{BASE}/_stcore/stream")
                           for url in sockets), sockets
    access = stack.access_log.read_text()
    assert re.search(rf"PUT /{BASE}/_stcore/upload_file/\S+ HTTP/1.1 204", access), access
    assert "Traceback" not in stack.log.read_text(errors="replace")
