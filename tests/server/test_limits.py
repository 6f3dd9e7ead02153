"""Every limit and timeout: its default holds, and hitting it gives the right answer."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest
from websockets.sync.client import connect

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket, opened

Start = Callable[..., ThreadedServer]


def open_ws(server: ThreadedServer, path: str = "/echo") -> RawWebSocket:
    return opened(server.server_port, path)


def close_code(payload: bytes) -> int:
    return int(struct.unpack("!H", payload[:2])[0])


def test_max_message_size_closes_with_1009(start_server: Start) -> None:
    server = start_server(max_message_size=1000)
    with open_ws(server) as ws:
        ws.send_frame(0x2, b"x" * 1000)
        assert ws.read_frame() == (2, b"x" * 1000)  # at the limit: fine
        ws.send_frame(0x2, b"x" * 1001)
        opcode, payload = ws.read_frame()
        assert opcode == 8 and close_code(payload) == 1009


def test_fragmented_message_over_the_limit(start_server: Start) -> None:
    server = start_server(max_message_size=1000)
    with open_ws(server) as ws:
        from tests.rawclient import masked_frame

        ws.send(masked_frame(0x1, b"a" * 600, fin=False))
        ws.send(masked_frame(0x0, b"b" * 600))
        opcode, payload = ws.read_frame()
        assert opcode == 8 and close_code(payload) == 1009


def test_frame_header_over_the_limit_closes_before_the_payload(start_server: Start) -> None:
    server = start_server(max_frame_size=4096)
    with open_ws(server) as ws:
        # Claim 1 TiB and send no payload at all: the Close must come anyway.
        ws.send(bytes([0x82, 0xFF]) + (1 << 40).to_bytes(8, "big") + b"mask")
        opcode, payload = ws.read_frame()
        assert opcode == 8 and close_code(payload) == 1009


def test_request_line_too_long_is_414(start_server: Start) -> None:
    server = start_server(max_request_line=100)
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade("/echo?" + "a" * 200)
        assert ws.read_head()[0] == 414


def test_header_bytes_limit_is_431(start_server: Start) -> None:
    server = start_server(max_header_bytes=500)
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade("/echo", {"X-Big": "v" * 1000})
        assert ws.read_head()[0] == 431


def test_header_count_limit_is_431(start_server: Start) -> None:
    server = start_server(max_header_count=10)
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade("/echo", {f"X-{i}": "v" for i in range(20)})
        assert ws.read_head()[0] == 431


def test_handshake_timeout_is_408_and_stalled_clients_do_not_delay_others(
    start_server: Start,
) -> None:
    server = start_server(handshake_timeout=1.0)
    stalled = []
    for _ in range(200):  # slowloris: connections that never finish their request head
        s = socket.create_connection(("127.0.0.1", server.server_port))
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        stalled.append(s)
    started = time.monotonic()
    with connect(f"ws://127.0.0.1:{server.server_port}/echo", open_timeout=5) as ws:
        ws.send("still served")
        assert ws.recv(timeout=5) == "still served"
    assert time.monotonic() - started < 0.9  # answered before any stalled client timed out
    stalled[0].settimeout(5)
    response = stalled[0].recv(1024)
    assert response.startswith(b"HTTP/1.1 408 ")
    for s in stalled:
        s.close()


def test_close_timeout_bounds_the_wait_for_the_peers_close(start_server: Start) -> None:
    server = start_server(close_timeout=0.5)
    with open_ws(server) as ws:
        ws.send_text("Goodbye")  # the echo handler returns: the server sends Close 1000
        assert ws.read_frame() == (1, b"Goodbye")
        opcode, payload = ws.read_frame()
        assert opcode == 8 and close_code(payload) == 1000
        # We never answer; the server gives up after close_timeout and closes TCP.
        extra, closed_after = ws.drain_until_eof(5.0)
        assert extra == b"" and closed_after is not None and closed_after < 3.0


def test_idle_timeout_closes_with_1001(start_server: Start) -> None:
    server = start_server(idle_timeout=0.5)
    with open_ws(server) as ws:
        ws.sock.settimeout(5)
        opcode, payload = ws.read_frame()
        assert opcode == 8 and close_code(payload) == 1001


def test_keepalive_pings_and_closes_unresponsive_peers(start_server: Start) -> None:
    server = start_server(ping_interval=0.3, ping_timeout=0.6)
    with connect(f"ws://127.0.0.1:{server.server_port}/echo") as ws:
        time.sleep(1.5)  # the websockets client answers pings by itself
        ws.send("alive")
        assert ws.recv(timeout=5) == "alive"
    with open_ws(server) as ws:  # a raw client that never answers
        ws.sock.settimeout(5)
        assert ws.read_frame() == (9, b"keepalive")
        opcode, payload = ws.read_frame()
        assert opcode == 8 and close_code(payload) == 1011


def test_max_connections_answers_503(start_server: Start) -> None:
    server = start_server(max_connections=2)
    first, second = open_ws(server), open_ws(server)
    try:
        with RawWebSocket(server.server_port) as third:
            third.upgrade("/echo")
            assert third.read_head()[0] == 503
    finally:
        first.close()
        second.close()
    deadline = time.monotonic() + 5
    while server.connection_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    with open_ws(server) as again:
        again.send_text("room again")
        assert again.read_frame() == (1, b"room again")


@pytest.mark.parametrize("flag, value", [("max_message_size", 64 * 1024 * 1024)])
def test_defaults_fit_the_conformance_suite(flag: str, value: int) -> None:
    from mod_pywebsocket.options import ServerOptions

    # Autobahn sends messages of up to 16 MiB; the defaults must allow them.
    assert getattr(ServerOptions(), flag) == value >= 16 * 1024 * 1024
