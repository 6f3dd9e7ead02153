"""Which connections get HTTP/2 (--http2: TLS ALPN, the cleartext preface), and the flag."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
import websocket

import mod_pywebsocket.server
from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server.threaded import ThreadedServer

from .client import H2Client
from .conftest import HANDLERS

Start = Callable[..., ThreadedServer]


def test_http11_is_still_served_on_the_same_port(server: ThreadedServer) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.server_port}/echo", timeout=5)
    try:
        ws.send("over HTTP/1.1")
        assert ws.recv() == "over HTTP/1.1"
    finally:
        ws.close()
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200 ")


def test_tls_offers_h2_and_http11_by_alpn(start_server: Start, tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem")
    )
    server = start_server(
        use_tls=True,
        certificate=str(tmp_path / "server.pem"),
        private_key=str(tmp_path / "server.pem"),
    )
    h2_context = ssl.create_default_context()
    ca.configure_trust(h2_context)
    h2_context.set_alpn_protocols(["h2", "http/1.1"])
    with H2Client(server.server_port, tls=h2_context) as client:
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sock.selected_alpn_protocol() == "h2"
        stream = client.connect("/echo")
        assert stream.status == 200
        client.send_text(stream, "over h2 and TLS")
        assert client.read_message(stream) == "over h2 and TLS"
        client.close_websocket(stream)
    http11_context = ssl.create_default_context()
    ca.configure_trust(http11_context)
    http11_context.set_alpn_protocols(["http/1.1"])
    ws = websocket.create_connection(
        f"wss://localhost:{server.server_port}/echo", timeout=5, sslopt={"context": http11_context}
    )
    try:
        ws.send("over HTTP/1.1 and TLS")
        assert ws.recv() == "over HTTP/1.1 and TLS"
    finally:
        ws.close()


def test_off_by_default(start_server: Start) -> None:
    server = start_server(http2=False)
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 4")
    assert ServerOptions().http2 is False


def test_flag_and_config_file_key(tmp_path: Path) -> None:
    assert ServerOptions.from_args(["--http2"]).http2 is True
    assert ServerOptions.from_args([]).http2 is False
    config = tmp_path / "server.ini"
    config.write_text("[pywebsocket]\nhttp2 = true\n", encoding="utf-8")
    assert ServerOptions.from_args(["--config", str(config)]).http2 is True


def test_without_h2_the_server_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # import h2 now raises ImportError
    monkeypatch.delitem(sys.modules, "mod_pywebsocket.server.http2", raising=False)
    monkeypatch.delattr(mod_pywebsocket.server, "http2", raising=False)
    options = ServerOptions(
        server_host="127.0.0.1", port=0, websock_handlers=str(HANDLERS), http2=True
    )
    with pytest.raises(ValueError, match=r"pip install 'mod_pywebsocket\[http2\]'"):
        ThreadedServer(options, listen=False)


def test_without_h2_the_command_line_fails_at_start(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['h2'] = None\n"
        "from mod_pywebsocket import standalone\n"
        f"standalone.main(['-p', '0', '-d', {str(HANDLERS)!r}, '--http2'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 1
    assert "pip install 'mod_pywebsocket[http2]'" in proc.stderr
