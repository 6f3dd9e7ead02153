"""No leaks whatever the peer does, and a shutdown that loses nothing."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket, masked_frame, opened

HANDLERS = Path(__file__).resolve().parent / "handlers"
Start = Callable[..., ThreadedServer]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _upgraded(port: int) -> socket.socket:
    return opened(port).sock


def _abort(kind: int, port: int) -> None:
    if kind == 0:  # RST in the middle of a frame
        sock = _upgraded(port)
        sock.sendall(masked_frame(0x2, b"x" * 1000)[:500])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    elif kind == 1:  # half-closed TCP after the upgrade
        sock = _upgraded(port)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        while sock.recv(4096):
            pass
        sock.close()
    elif kind == 2:  # gone in the middle of the request head
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        sock.close()
    else:  # connect and vanish without a byte
        socket.create_connection(("127.0.0.1", port)).close()


def test_threads_and_descriptors_return_to_baseline_after_1000_aborts(start_server: Start) -> None:
    server = start_server(handshake_timeout=2.0, close_timeout=1.0)
    port = server.server_port
    _abort(0, port)  # warm up lazily created objects before the baseline
    assert settle(lambda: server.connection_count() == 0)
    threads, fds = threading.active_count(), open_fds()
    for i in range(1000):
        _abort(i % 4, port)
    assert settle(lambda: server.connection_count() == 0), server.connection_count()
    assert settle(lambda: threading.active_count() <= threads), (threading.active_count(), threads)
    assert settle(lambda: open_fds() <= fds), (open_fds(), fds)
    with RawWebSocket(port) as ws:  # and the server still serves
        ws.upgrade("/echo")
        assert ws.read_head()[0] == 101
        ws.send_text("after the storm")
        assert ws.read_frame() == (1, b"after the storm")


def test_shutdown_flushes_sent_messages_then_closes_with_1001(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    ws = RawWebSocket(server.server_port, timeout=10)
    ws.upgrade("/burst")
    assert ws.read_head()[0] == 101
    ws.send_text("2000")
    assert ws.read_frame() == (1, b"message 0")  # the handler is sending
    closer = threading.Thread(target=server.close_connections, kwargs={"grace": 5.0})
    closer.start()
    received = 1
    while True:
        opcode, payload = ws.read_frame()
        if opcode == 8:
            break
        assert payload == b"message %d" % received
        received += 1
    assert struct.unpack("!H", payload[:2])[0] == 1001
    ws.send_close(1001)
    closer.join(10)
    assert not closer.is_alive()
    # Every message the stream accepted before the Close arrived, in order.
    suite = server.dispatcher.get_handler_suite("/burst")
    assert suite is not None
    assert settle(lambda: bool(suite.transfer_data.__globals__["sent"]))
    assert received == suite.transfer_data.__globals__["sent"][0]
    assert settle(lambda: server.connection_count() == 0)
    ws.close()
