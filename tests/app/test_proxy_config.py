"""The nginx configurations of docs/deployment.md and docs/deployment/nginx-instances.conf, run
by Debian's nginx in front of a stand-in for the app (no browser, no Streamlit): what reaches the
app, what the proxy answers itself and what its logs keep. Skipped without nginx or openssl.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.app.nginx_support import NGINX, instances_config, running_nginx

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ROOT / "docs" / "deployment.md"
# A join link with a short code: both are the room's credential.
SECRET = "Zq7SECRETsecretSECRET"
CODE = "ABCD-EFGH"
JOIN = f"/join?room=a-Key1.{SECRET}&code={CODE}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandIn(BaseHTTPRequestHandler):
    """Answers every request with 200 and remembers its path and Host header."""

    seen: list[tuple[str, str]]

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))  # type: ignore[attr-defined]
        body = b"stand-in"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        """An upload: reads the body, answers 200 with its length."""
        length = int(self.headers.get("Content-Length", "0"))
        received = self.rfile.read(length)
        self.server.seen.append(("PUT " + self.path, str(len(received))))  # type: ignore[attr-defined]
        body = str(len(received)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def stand_in_app(port: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), StandIn)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def documented_single_proxy(directory: Path, listen_port: int, app_port: int) -> str:
    """The ```nginx block of docs/deployment.md, as its commands fill it in."""
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOYMENT.read_text(), flags=re.S)
    assert len(blocks) == 1
    config = blocks[0].replace("$D", str(directory))
    config = config.replace("127.0.0.1:8443", f"127.0.0.1:{listen_port}")
    return config.replace("127.0.0.1:8501", f"127.0.0.1:{app_port}")


def instances_proxy(directory: Path, listen_port: int, app_port: int) -> str:
    return instances_config(directory, listen_port, app_port, app_port)


def fetch(url: str, upload: bytes | None = None) -> tuple[int, dict[str, str]]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, data=upload, method="PUT" if upload else "GET")
    try:
        with urllib.request.urlopen(request, context=context, timeout=20) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.parametrize("variant", ["deployment.md", "nginx-instances.conf"])
def test_the_documented_proxy_keeps_secrets_out_of_logs_and_metrics_in(tmp_path, variant):
    if not NGINX.is_file() or shutil.which("openssl") is None:
        pytest.skip(f"needs {NGINX} (apt-get install nginx) and openssl")
    listen_port, app_port = free_port(), free_port()
    build = documented_single_proxy if variant == "deployment.md" else instances_proxy
    config = build(tmp_path, listen_port, app_port)
    proxy = f"https://127.0.0.1:{listen_port}"
    with running_nginx(tmp_path, config, listen_port):
        with stand_in_app(app_port) as app:
            status, headers = fetch(proxy + JOIN)
            assert status == 200
            # The Host the browser sent, port included: Streamlit compares the WebSocket's
            # Origin with it, so a proxy on any port but 443 would otherwise be refused.
            assert app.seen == [(JOIN, f"127.0.0.1:{listen_port}")]
            assert headers.get("Content-Security-Policy") == "frame-ancestors 'self'"

            status, headers = fetch(proxy + "/_stcore/metrics")
            assert status == 404
            assert headers.get("Content-Security-Policy") == "frame-ancestors 'self'"
            assert [path for path, _ in app.seen] == [JOIN]

            # A video upload (Streamlit PUTs files) reaches the app whole, through no temp file
            # of nginx's: its worker may not be able to write one.
            status, _ = fetch(proxy + "/_stcore/upload_file/x", upload=b"v" * 3_000_000)
            assert status == 200
            assert app.seen[-1] == ("PUT /_stcore/upload_file/x", "3000000")
        # The app is down: nginx's error message would name the request.
        status, _ = fetch(proxy + JOIN)
        assert status == 502
    logs = "".join(path.read_text() for path in (tmp_path / "logs").iterdir())
    assert "/join" in logs  # the access log has the requests, ...
    assert SECRET not in logs and CODE not in logs  # ... not their credentials
