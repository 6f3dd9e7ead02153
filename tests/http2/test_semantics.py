"""Handler semantics, limits and the access line are those of HTTP/1.1 over a stream."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable

import h2.errors
import pytest

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket

from .client import OPCODE_CLOSE, H2Client

Start = Callable[..., ThreadedServer]
OPCODE_PING = 0x9


def _wait_for(lines: list[str], text: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [line for line in lines if text in line]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no access line with {text!r} in {lines}")


def test_access_line_per_stream(server: ThreadedServer, access_lines: list[str]) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/echo?line")
        client.send_text(stream, "x")
        client.read_message(stream)
        client.close_websocket(stream)
        line = _wait_for(access_lines, '"/echo?line"')
        assert " 200 1000 " in line


def test_message_too_big_is_1009(start_server: Start) -> None:
    server = start_server(max_message_size=100)
    with H2Client(server.server_port) as client:
        stream = client.connect("/echo")
        client.send_text(stream, "y" * 200)
        opcode, _, payload = client.read_frame(stream)
        assert (opcode, payload) == (OPCODE_CLOSE, struct.pack("!H", 1009))


def test_handler_bug_resets_the_stream_without_close(
    server: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/bug")
        client.send_text(stream, "go")
        client.pump(lambda: stream.reset is not None)
        assert stream.reset == h2.errors.ErrorCodes.CANCEL
        assert not stream.data  # no Close frame: the browser sees an abnormal closure
        assert client.connect("/echo").status == 200


def test_keepalive_pings_each_stream(start_server: Start) -> None:
    server = start_server(ping_interval=0.2)
    with H2Client(server.server_port) as client:
        stream = client.connect("/echo")
        opcode, _, payload = client.read_frame(stream, timeout=5)
        assert (opcode, payload) == (OPCODE_PING, b"keepalive")


def test_garbage_after_the_preface_ends_only_that_connection(server: ThreadedServer) -> None:
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        # A DATA frame on stream 0 (RFC 9113 6.1: a connection error).
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        # SETTINGS, then a GOAWAY (type 7) with PROTOCOL_ERROR (1), then the close.
        goaway = received.find(b"\x07\x00\x00\x00\x00\x00")
        assert goaway > 0
        assert received[goaway + 10 : goaway + 14] == b"\x00\x00\x00\x01"
    with H2Client(server.server_port) as client:
        assert client.connect("/echo").status == 200


def test_header_count_limit_is_431(start_server: Start) -> None:
    server = start_server(max_header_count=5)
    with H2Client(server.server_port) as client:
        many = [(f"x-h{i}", "v") for i in range(6)]
        assert client.connect("/echo", many).status == 431
        assert client.connect("/echo", many[:4]).status == 200


def test_header_bytes_limit_is_a_connection_error(start_server: Start) -> None:
    server = start_server(max_header_bytes=1000)
    with H2Client(server.server_port) as client:
        stream = client.connect("/echo", [("x-big", "v" * 2000)], wait=False)
        client.pump(lambda: client.goaway is not None or client.eof)
        assert stream.status is None
        assert client.goaway is not None
        assert client.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    with H2Client(server.server_port) as client:
        assert client.connect("/echo", [("x-small", "v" * 500)]).status == 200


def test_streams_count_against_max_connections(start_server: Start) -> None:
    # Each stream has its handler thread, so each holds a --max-connections slot
    # (the HTTP/2 connection itself holds one more).
    server = start_server(max_connections=3)
    with H2Client(server.server_port) as client:
        first = client.connect("/echo")
        second = client.connect("/echo")
        assert (first.status, second.status) == (200, 200)
        refused = client.connect("/echo")
        assert refused.status == 503
        client.pump(lambda: refused.ended or refused.reset is not None)
        assert b"too many connections" in refused.data
        with RawWebSocket(server.server_port) as ws:  # HTTP/1.1 shares the limit
            ws.upgrade("/echo")
            assert ws.read_head()[0] == 503
        client.close_websocket(first)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the first stream's slot comes back
            again = client.connect("/echo")
            if again.status == 200:
                break
            time.sleep(0.05)
        assert again.status == 200
        client.send_text(again, "served")
        assert client.read_message(again) == "served"


def test_a_silent_connection_waits_one_handshake_timeout_with_http2(start_server: Start) -> None:
    # The wait for an HTTP/2 preface is part of the handshake timeout, not added to it.
    server = start_server(handshake_timeout=1.0)
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < waited < 1.8, waited


def test_a_peer_that_floods_pings_and_reads_nothing_is_held_by_tcp(start_server: Start) -> None:
    """Every PING is answered: a peer that sends them and reads nothing would grow
    the answers without end for the whole send timeout (a "ping flood"). Past
    READ_PAUSE queued the server stops reading it, so TCP holds the peer back,
    and other connections are served meanwhile."""
    server = start_server(send_timeout=60.0)
    ping = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"12345678"  # PING, stream 0
    burst = ping * 4096  # 68 KiB
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: see rawclient
    sock.settimeout(2.0)
    sock.connect(("127.0.0.1", server.server_port))
    with sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        pushed = 0
        limit = 32 << 20  # without the pause the server takes it all, answering as it goes
        with contextlib.suppress(TimeoutError):
            while pushed < limit:
                sock.sendall(burst)
                pushed += len(burst)
        # Held back: the 1 MiB of answers plus what both sides' socket buffers took.
        assert pushed < limit // 2, pushed
        with H2Client(server.server_port) as client:  # the others are served
            stream = client.connect("/echo")
            client.send_text(stream, "still here")
            assert client.read_message(stream) == "still here"
