"""Static files: streamed from disk, HEAD without a body, bytes counted in the access log."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import trustme

from mod_pywebsocket.handlers.dispatch import is_under
from mod_pywebsocket.server.static import resolve_path
from mod_pywebsocket.server.threaded import ThreadedServer
from tests.server.process import ServerProcess

Start = Callable[..., ThreadedServer]
MiB = 1024 * 1024


def fetch(
    port: int,
    request: bytes,
    wrap: Callable[[socket.socket], socket.socket] | None = None,
    keep: list[bytes] | None = None,
) -> tuple[bytes, int]:
    """(response head, count of body bytes) of one request on its own connection.

    ``wrap`` wraps the socket (TLS); the body is appended to ``keep`` when given.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as plain:
        s = wrap(plain) if wrap else plain
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        body = len(rest)
        if keep is not None:
            keep.append(rest)
        while chunk := s.recv(1 << 20):
            body += len(chunk)
            if keep is not None:
                keep.append(chunk)
    return head, body


def header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@pytest.fixture
def docroot(tmp_path: Path) -> Path:
    (tmp_path / "page.html").write_text("<p>hello</p>\n")
    with open(tmp_path / "big.bin", "wb") as f:  # sparse: no disk space taken
        f.truncate(64 * MiB)
    return tmp_path


def test_concurrent_downloads_of_a_large_file_do_not_hold_it_in_memory(docroot: Path) -> None:
    server = ServerProcess("-w", str(docroot), "-d", str(docroot))
    try:
        fetch(server.port, b"GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n")  # warm up
        server.reset_peak()
        results: list[tuple[bytes, int]] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    fetch(server.port, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                )
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        growth = server.peak_growth()
    finally:
        server.stop()
    assert [body for _, body in results] == [64 * MiB] * 4
    assert all(header(head, "Content-Length") == str(64 * MiB) for head, _ in results)
    # Before: each request read the whole file (4 x 64 MiB = 256 MiB of RSS and more).
    assert growth < 16 * MiB, growth / MiB


@pytest.mark.parametrize("tls", [False, True], ids=["sendfile", "tls"])
def test_file_content_arrives_whole_over_sendfile_and_tls(
    start_server: Start, docroot: Path, tmp_path: Path, tls: bool
) -> None:
    content = bytes(range(256)) * (5 * 4096) + b"odd"  # not a multiple of the chunk size
    (docroot / "pattern.bin").write_bytes(content)
    wrap = None
    if tls:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
        server = start_server(
            document_root=str(docroot),
            use_tls=True,
            certificate=str(tmp_path / "server.pem"),
            private_key=str(tmp_path / "server.pem"),
        )
        context = ssl.create_default_context()
        ca.configure_trust(context)
        wrap = partial(context.wrap_socket, server_hostname="127.0.0.1")
    else:
        server = start_server(document_root=str(docroot))
    body: list[bytes] = []
    head, size = fetch(
        server.server_port, b"GET /pattern.bin HTTP/1.1\r\nHost: x\r\n\r\n", wrap, body
    )
    assert head.startswith(b"HTTP/1.1 200 ") and header(head, "Content-Length") == str(size)
    assert b"".join(body) == content


def test_head_has_the_get_headers_and_no_body(start_server: Start, docroot: Path) -> None:
    server = start_server(document_root=str(docroot))
    get_head, get_body = fetch(server.server_port, b"GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n")
    head, body = fetch(server.server_port, b"HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head == get_head and header(head, "Content-Length") == "13" == str(get_body)
    assert body == 0
    # Errors too (RFC 9110 9.3.2: no content in a response to HEAD), with their length.
    missing_get, missing_body = fetch(
        server.server_port, b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    missing, body = fetch(server.server_port, b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 404 ") and body == 0
    assert header(missing, "Content-Length") == header(missing_get, "Content-Length")
    assert header(missing_get, "Content-Length") == str(missing_body)


def test_access_line_counts_the_bytes_sent(
    start_server: Start, docroot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(document_root=str(docroot))
    with caplog.at_level(logging.INFO, logger="mod_pywebsocket.access"):
        head, body = fetch(server.server_port, b"GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(100):
            if "/page.html" in caplog.text:
                break
            threading.Event().wait(0.05)
    [line] = [r.getMessage() for r in caplog.records if "/page.html" in r.getMessage()]
    # Before: "out=0" for every static answer.
    assert f"out={len(head) + 4 + body} " in line + " ", line


@pytest.mark.parametrize(
    ("path", "root", "inside"),
    [
        ("/srv/www", "/srv/www", True),
        ("/srv/www/a/b", "/srv/www", True),
        ("/srv/www/a", "/srv/www/", True),
        ("/srv/www2/a", "/srv/www", False),
        ("/srv", "/srv/www", False),
        ("/etc/passwd", "/", True),
    ],
)
def test_containment_is_one_check(path: str, root: str, inside: bool) -> None:
    """The handler root, the document root and the CGI directories share is_under;
    "/srv/www2" is not under "/srv/www", and "/" holds everything."""
    assert is_under(path, root) is inside


def test_resolve_path_stays_under_the_document_root(docroot: Path) -> None:
    (docroot / "sub").mkdir(exist_ok=True)
    (docroot / "sub" / "f.txt").write_text("x")
    (docroot / "out").symlink_to(docroot.parent)
    real = os.path.realpath(docroot)
    assert resolve_path(str(docroot), "/sub/f.txt?q") == os.path.join(real, "sub", "f.txt")
    assert resolve_path(str(docroot), "/") == os.path.join(real, "index.html")
    assert resolve_path(str(docroot), "/../x") is None
    assert resolve_path(str(docroot), "/out/x") is None
