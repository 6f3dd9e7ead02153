"""The Apache deployment: mod_pywebsocket.headerparserhandler under a real httpd."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from httpd import ApacheServer
from tests.rawclient import RawWebSocket

from mod_pywebsocket.server.modpython import options_from_apache

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
EXAMPLE = HERE.parent.parent / "example"


@pytest.fixture
def server(apache_factory: Callable[..., ApacheServer]) -> ApacheServer:
    return apache_factory(handler_root=str(HANDLERS))


@pytest.fixture
def example_server(apache_factory: Callable[..., ApacheServer]) -> ApacheServer:
    return apache_factory(handler_root=str(EXAMPLE))


def test_no_bytes_after_client_close_and_tcp_closed(example_server: ApacheServer) -> None:
    with RawWebSocket(example_server.port) as ws:
        key, accept = ws.upgrade("/echo")
        status, headers, _ = ws.read_head()
        assert status == 101 and headers["sec-websocket-accept"] == accept
        ws.send_text("hi")
        assert ws.read_frame() == (1, b"hi")
        ws.send_close(1000, b"done")
        assert ws.read_frame() == (8, b"\x03\xe8")
        extra, closed_after = ws.drain_until_eof(4.0)
        assert extra == b""
        assert closed_after is not None and closed_after < 2.0


def test_no_bytes_after_server_close(example_server: ApacheServer) -> None:
    with RawWebSocket(example_server.port) as ws:
        ws.upgrade("/echo")
        assert ws.read_head()[0] == 101
        ws.send_text("Goodbye")
        assert ws.read_frame() == (1, b"Goodbye")
        assert ws.read_frame() == (8, b"\x03\xe8")
        ws.send_close(1000)
        extra, closed_after = ws.drain_until_eof(4.0)
        assert extra == b"" and closed_after is not None and closed_after < 2.0


def test_upgrade_after_a_kept_alive_request(example_server: ApacheServer) -> None:
    with RawWebSocket(example_server.port) as ws:
        ws.request("/static.txt")
        status, headers, _ = ws.read_head()
        assert status == 200
        ws.read_body(int(headers["content-length"]))
        ws.upgrade("/echo")
        assert ws.read_head()[0] == 101
        ws.send_text("again")
        assert ws.read_frame() == (1, b"again")


def test_non_websocket_and_unknown_resources_are_declined(server: ApacheServer) -> None:
    with RawWebSocket(server.port) as ws:
        ws.request("/static.txt")
        assert ws.read_head()[0] == 200
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/no_such_handler")
        status, _, head = ws.read_head()
        assert status == 404 and b"Apache" in head  # Apache's own answer


def test_request_fields_keep_the_query(server: ApacheServer) -> None:
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/fields?a=b&c", {"X-Test": "yes"})
        assert ws.read_head()[0] == 101
        values = [ws.read_frame()[1].decode() for _ in range(8)]
    assert values == [
        "/fields?a=b&c",
        "/fields?a=b&c",
        "/fields?a=b&c",
        "GET",
        "yes",
        "13",
        "http://127.0.0.1",
        "False",
    ]


def test_raw_connection_read_and_write(server: ApacheServer) -> None:
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/raw")
        assert ws.read_head()[0] == 101
        ws.send(b"12345")
        assert ws.read_frame() == (1, b"raw:12345")


def test_handshake_errors(server: ApacheServer) -> None:
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/fields", {"Sec-WebSocket-Version": "7"})
        status, headers, _ = ws.read_head()
        assert status == 400 and headers["sec-websocket-version"] == "13, 8"
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/reject")
        assert ws.read_head()[0] == 403


def test_missing_handler_root_declines_and_logs(
    apache_factory: Callable[..., ApacheServer],
) -> None:
    server = apache_factory(handler_root=None)
    with RawWebSocket(server.port) as ws:
        ws.upgrade("/echo")
        assert ws.read_head()[0] == 404
    assert "handler_root is not set" in server.error_log()


def test_options_from_apache() -> None:
    options = options_from_apache(
        {
            "mod_pywebsocket.handler_root": "/h",
            "mod_pywebsocket.handler_scan": "/h/s",
            "mod_pywebsocket.allow_handlers_outside_root_dir": "On",
            "mod_pywebsocket.max_message_size": "1024",
            "mod_pywebsocket.close_timeout": "2.5",
            "mod_pywebsocket.idle_timeout": "none",
            "other.option": "ignored",
        }
    )
    assert (options.websock_handlers, options.scan_dir) == ("/h", "/h/s")
    assert options.allow_handlers_outside_root_dir is True
    assert (options.max_message_size, options.close_timeout, options.idle_timeout) == (
        1024,
        2.5,
        None,
    )
    with pytest.raises(ValueError, match="handler_root is not set"):
        options_from_apache({})
    with pytest.raises(ValueError, match="unknown option mod_pywebsocket.nope"):
        options_from_apache({"mod_pywebsocket.handler_root": "/h", "mod_pywebsocket.nope": "1"})
    with pytest.raises(ValueError, match="allow_hybi00: expected On or Off"):
        options_from_apache(
            {"mod_pywebsocket.handler_root": "/h", "mod_pywebsocket.allow_hybi00": "maybe"}
        )


def test_hybi00_behind_its_python_option(apache_factory: Callable[..., ApacheServer]) -> None:
    from tests.server.test_protocol_versions import EXPECTED, hybi00_handshake

    handlers = str(HERE.parent / "server" / "handlers")
    refused = apache_factory(handler_root=handlers)
    sock, data = hybi00_handshake(refused.port)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400 ") and b"Sec-WebSocket-Version: 13, 8" in data
    server = apache_factory(
        handler_root=handlers, extra_conf="PythonOption mod_pywebsocket.allow_hybi00 On"
    )
    sock, data = hybi00_handshake(server.port)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 WebSocket Protocol Handshake")
    while len(rest) < 16:
        rest += sock.recv(4096)
    assert rest[:16] == EXPECTED
    sock.sendall(b"\xff\x00")
    sock.settimeout(5)
    tail = rest[16:]
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        tail += chunk
    assert tail.endswith(b"\xff\x00")
    sock.close()
