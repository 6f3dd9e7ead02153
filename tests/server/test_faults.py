"""Faults that must cost one connection, never the server: bad request heads, slow or
silent peers, stuck sends, exhausted resources; and what the log says about them."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from mod_pywebsocket.server.threaded import ThreadedServer

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
