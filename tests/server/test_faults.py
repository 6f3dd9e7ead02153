"""Faults that must cost one connection, never the server: bad request heads, slow or
silent peers, stuck sends, exhausted resources; and what the log says about them."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import pytest

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket

Start = Callable[..., ThreadedServer]


@pytest.mark.parametrize("head", [
    b"GET /echo HTTP/1.1\nHost: x\n",  # bare LF line endings, head not finished
    b"GET /echo HTTP/1.1\nHost: x\n\n",  # a whole bare-LF head
    b"GET /echo HTTP/1.1\r\nHost: x\rY: z\r\n",  # a bare CR inside a line
    b"GET /echo\r\n",  # a malformed request line, the headers still to come
    b"GET /echo HTTP/1.1\r\nHost x\r\n",  # a header line without a colon
], ids=["bare-lf", "bare-lf-whole", "bare-cr", "request-line", "header-line"])
def test_a_malformed_request_head_gets_400_as_soon_as_it_is_seen(start_server: Start,
                                                                   head: bytes) -> None:
    server = start_server(handshake_timeout=60.0)
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(head)  # and wait: the answer must not need the rest or the timeout
        response = sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 400 "), response


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mod_pywebsocket.access"]


def _settle(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_request_targets_are_escaped_in_the_log(start_server: Start,
                                               caplog: pytest.LogCaptureFixture) -> None:
    server = start_server()
    target = b'/no\x1b[2J\x07"such\x7f\x00'  # a terminal escape, BEL, a quote, DEL, NUL
    with caplog.at_level(logging.DEBUG, logger="mod_pywebsocket"):
        with RawWebSocket(server.server_port) as ws:
            ws.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            assert ws.read_head()[0] == 404
        assert _settle(lambda: bool(_access_lines(caplog)))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(ch in logged for ch in "\x1b\x07\x7f\x00"), logged
    assert '"/no\\x1b[2J\\x07\\"such\\x7f\\x00"' in _access_lines(caplog)[0]
