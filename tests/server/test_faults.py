"""Faults that must cost one connection, never the server: bad request heads, slow or
silent peers, stuck sends, exhausted resources; and what the log says about them."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mod_pywebsocket import standalone
from mod_pywebsocket.options import DEFAULT_SEND_TIMEOUT, ServerOptions
from mod_pywebsocket.server import threaded
from mod_pywebsocket.server.modpython import options_from_apache
from mod_pywebsocket.server.session import Stream
from mod_pywebsocket.server.threaded import SocketTransport, ThreadedServer
from tests.rawclient import RawWebSocket, opened

HANDLERS = Path(__file__).resolve().parent / "handlers"
Start = Callable[..., ThreadedServer]


@pytest.mark.parametrize(
    "head",
    [
        b"GET /echo HTTP/1.1\nHost: x\n",  # bare LF line endings, head not finished
        b"GET /echo HTTP/1.1\nHost: x\n\n",  # a whole bare-LF head
        b"GET /echo HTTP/1.1\r\nHost: x\rY: z\r\n",  # a bare CR inside a line
        b"GET /echo\r\n",  # a malformed request line, the headers still to come
        b"GET /echo HTTP/1.1\r\nHost x\r\n",  # a header line without a colon
    ],
    ids=["bare-lf", "bare-lf-whole", "bare-cr", "request-line", "header-line"],
)
def test_a_malformed_request_head_gets_400_as_soon_as_it_is_seen(
    start_server: Start, head: bytes
) -> None:
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


def test_request_targets_are_escaped_in_the_log(
    start_server: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    target = b'/no\x1b[2J\x07"such\x7f\x00'  # a terminal escape, BEL, a quote, DEL, NUL
    with caplog.at_level(logging.DEBUG, logger="mod_pywebsocket"):
        with RawWebSocket(server.server_port) as ws:
            ws.send(
                b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            assert ws.read_head()[0] == 404
        assert _settle(lambda: bool(_access_lines(caplog)))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(ch in logged for ch in "\x1b\x07\x7f\x00"), logged
    assert '"/no\\x1b[2J\\x07\\"such\\x7f\\x00"' in _access_lines(caplog)[0]


# --- peers that do not read ------------------------------------------------------------


def _handler_state(server: ThreadedServer, resource: str) -> dict[str, Any]:
    suite = server.dispatcher.get_handler_suite(resource)
    assert suite is not None
    return suite.transfer_data.__globals__  # type: ignore[no-any-return]


def _non_reading_client(server: ThreadedServer, resource: str = "/flood") -> RawWebSocket:
    """An upgraded client that will never read again, with a small receive buffer."""
    return opened(server.server_port, resource, receive_buffer=4096)


def _stuck(server: ThreadedServer) -> bool:
    """True once the flood handler has made no progress for half a second."""
    progress = _handler_state(server, "/flood")["progress"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        before = progress[0]
        time.sleep(0.5)
        if progress[0] == before:
            return True
    return False


def test_send_timeout_fails_a_connection_whose_peer_does_not_read(
    start_server: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(websock_handlers=str(HANDLERS), send_timeout=0.5)
    outcomes = _handler_state(server, "/flood")["outcomes"]
    outcomes.clear()
    with caplog.at_level(logging.INFO, logger="mod_pywebsocket"):
        with _non_reading_client(server):
            # The send that cannot progress fails after the timeout, and so does the next.
            assert _settle(lambda: bool(outcomes), 10)
            assert outcomes == [("ConnectionTerminatedException", "ConnectionTerminatedException")]
            assert _settle(lambda: server.connection_count() == 0)
    assert "send made no progress" in caplog.text
    with RawWebSocket(server.server_port) as ws:  # everyone else is still served
        ws.upgrade("/echo")
        assert ws.read_head()[0] == 101
        ws.send_text("still here")
        assert ws.read_frame() == (1, b"still here")


def test_send_timeout_is_a_flag_a_config_key_and_a_python_option(tmp_path: Path) -> None:
    assert ServerOptions().send_timeout == DEFAULT_SEND_TIMEOUT == 60.0
    flags, _ = standalone._parse_args_and_config(["--send-timeout", "7"])
    assert ServerOptions.from_namespace(flags).send_timeout == 7.0
    off, _ = standalone._parse_args_and_config(["--send_timeout", "0"])
    assert ServerOptions.from_namespace(off).send_timeout is None
    config = tmp_path / "server.ini"
    config.write_text("[pywebsocket]\nsend-timeout = 8\n")
    from_file, _ = standalone._parse_args_and_config(["--config", str(config)])
    assert ServerOptions.from_namespace(from_file).send_timeout == 8.0
    apache = options_from_apache(
        {"mod_pywebsocket.handler_root": "/h", "mod_pywebsocket.send_timeout": "9"}
    )
    assert apache.send_timeout == 9.0


def _streams(server: ThreadedServer) -> list[Stream]:
    with server._lock:
        return [s for s in server._connections.values() if s is not None]


def close_code(payload: bytes) -> int:
    return int(struct.unpack("!H", payload[:2])[0])


def test_abort_never_waits_for_a_sender_stuck_in_a_send(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), send_timeout=60.0)
    outcomes = _handler_state(server, "/flood")["outcomes"]
    outcomes.clear()
    with _non_reading_client(server):
        assert _stuck(server)  # the handler holds the write lock inside a send
        [stream] = _streams(server)
        aborter = threading.Thread(target=stream.abort, args=(1011, "stalled"), daemon=True)
        aborter.start()
        aborter.join(2)
        assert not aborter.is_alive(), "abort waited for the write lock"
        # The transport was cut: the stuck send returned at once, not after 60 s.
        assert _settle(lambda: bool(outcomes), 5)
        assert outcomes == [("ConnectionTerminatedException", "ConnectionTerminatedException")]
        assert _settle(lambda: server.connection_count() == 0)


def test_keepalive_is_not_held_up_by_a_peer_that_does_not_read(start_server: Start) -> None:
    server = start_server(
        websock_handlers=str(HANDLERS), send_timeout=60.0, ping_interval=0.3, ping_timeout=0.6
    )
    with _non_reading_client(server):
        assert _stuck(server)
        with RawWebSocket(server.server_port, timeout=5) as ws:  # never answers pings
            ws.upgrade("/echo")
            assert ws.read_head()[0] == 101
            assert ws.read_frame() == (9, b"keepalive")
            opcode, payload = ws.read_frame()
            assert opcode == 8 and close_code(payload) == 1011


# --- shutdown ----------------------------------------------------------------------------


def test_shutdown_does_not_wait_for_a_sender_stuck_in_a_send(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), send_timeout=60.0)
    with _non_reading_client(server), RawWebSocket(server.server_port) as idle:
        idle.upgrade("/echo")  # and a peer that never answers the Close either
        assert idle.read_head()[0] == 101
        assert _stuck(server)
        closer = threading.Thread(
            target=server.close_connections, kwargs={"grace": 1.0}, daemon=True
        )
        closer.start()
        closer.join(1.0 + 2.0)
        assert not closer.is_alive(), "close_connections waited on a peer that does not read"
        assert _settle(lambda: server.connection_count() == 0)
        opcode, payload = idle.read_frame()  # the peer that reads got its Close
        assert opcode == 8 and close_code(payload) == 1001


def _access_line(caplog: pytest.LogCaptureFixture, resource: str) -> list[str]:
    """The access line's fields for ``resource``: peer, resource, status, close code..."""
    assert _settle(lambda: any(f'"{resource}"' in line for line in _access_lines(caplog)))
    return next(line for line in _access_lines(caplog) if f'"{resource}"' in line).split()


def test_the_access_line_always_has_the_close_code(
    start_server: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(close_timeout=0.5)
    port = server.server_port
    with caplog.at_level(logging.INFO, logger="mod_pywebsocket.access"):
        with RawWebSocket(port) as ws:  # the peer closes first: its code
            ws.upgrade("/echo?peer")
            assert ws.read_head()[0] == 101
            ws.send_close(3001)
            assert ws.read_frame()[0] == 8
        assert _access_line(caplog, "/echo?peer")[2:4] == ["101", "3001"]
        with RawWebSocket(port) as ws:  # the peer vanishes: 1006, no closing handshake
            ws.upgrade("/echo?reset")
            assert ws.read_head()[0] == 101
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert _access_line(caplog, "/echo?reset")[2:4] == ["101", "1006"]
        with RawWebSocket(port) as ws:  # shutdown sends 1001; the peer never answers
            ws.upgrade("/echo?shutdown")
            assert ws.read_head()[0] == 101
            server.close_connections(grace=0.5)
            assert _access_line(caplog, "/echo?shutdown")[2:4] == ["101", "1001"]


def test_no_warning_when_a_peer_answers_the_shutdown_close_at_once(
    start_server: Start, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server()
    real_send = SocketTransport.send

    def descheduled_after_a_close(self: SocketTransport, data: bytes) -> None:
        real_send(self, data)
        if bytes(data[:1]) == b"\x88":  # a Close went out; its sender loses the CPU a while
            time.sleep(0.3)

    monkeypatch.setattr(SocketTransport, "send", descheduled_after_a_close)
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(connect(f"ws://127.0.0.1:{server.server_port}/echo"))
            for _ in range(3)
        ]
        with caplog.at_level(logging.INFO, logger="mod_pywebsocket"):
            server.close_connections(grace=3.0)
            assert _settle(lambda: server.connection_count() == 0)
        for client in clients:  # websockets answered each Close by itself
            with pytest.raises(ConnectionClosed) as info:
                client.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    assert len([line for line in _access_lines(caplog) if " 101 1001 " in line]) == 3


# --- exhausted resources -----------------------------------------------------------------


def test_a_failed_thread_start_answers_503_and_the_server_keeps_serving(
    start_server: Start, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    failures = [3]
    real_start = threaded._Worker.start

    def start(self: threaded._Worker) -> None:
        if failures[0]:  # as under a process limit
            failures[0] -= 1
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threaded._Worker, "start", start)
    with caplog.at_level(logging.WARNING, logger="mod_pywebsocket.server"):
        for _ in range(3):
            with RawWebSocket(server.server_port, timeout=5) as ws:
                ws.upgrade("/echo")
                assert ws.read_head()[0] == 503
        with RawWebSocket(server.server_port, timeout=5) as ws:  # threads are back
            ws.upgrade("/echo")
            assert ws.read_head()[0] == 101
            ws.send_text("served again")
            assert ws.read_frame() == (1, b"served again")
    assert len([r for r in caplog.records if "thread" in r.getMessage()]) == 1  # rate-limited
    assert _settle(lambda: server.connection_count() == 0)  # the refused gave their slots back


def test_emfile_on_accept_backs_off_instead_of_spinning(
    start_server: Start, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    listeners = {sock for sock, _ in server._sockets}
    calls = [0]
    failing = threading.Event()
    failing.set()
    real_accept = socket.socket.accept

    def accept(self: socket.socket) -> tuple[socket.socket, Any]:
        if self in listeners and failing.is_set():  # no descriptor, not even the reserve
            calls[0] += 1
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return real_accept(self)

    monkeypatch.setattr(socket.socket, "accept", accept)
    with caplog.at_level(logging.WARNING, logger="mod_pywebsocket.server"):
        with RawWebSocket(server.server_port, timeout=5) as ws:
            ws.upgrade("/echo")  # waits in the backlog while accept fails
            time.sleep(1.5)
            assert 0 < calls[0] < 50, calls[0]  # a spinning loop makes thousands of calls
            failing.clear()  # descriptors are back: the waiting client is served
            assert ws.read_head()[0] == 101
            ws.send_text("served")
            assert ws.read_frame() == (1, b"served")
    assert len([r for r in caplog.records if "accept" in r.getMessage()]) == 1


@pytest.mark.parametrize("vectored", [False, True], ids=["send", "sendv"])
def test_the_send_timeout_counts_from_the_last_byte_that_went_out(vectored: bool) -> None:
    """A send that copies a little at once and then waits must not get a second timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.connect(listener.getsockname())
    sock, _ = listener.accept()
    try:
        transport = SocketTransport(sock, send_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no progress"):
            for _ in range(1000):  # the peer never reads: the buffers fill, then nothing
                if vectored:
                    transport.sendv((b"h" * 10, b"x" * 65536))
                else:
                    transport.send(b"x" * 65536)
        assert time.monotonic() - started < 1.0 * 1.25 + 1.0  # not 2 x 1 s after the last byte
    finally:
        for s in (sock, peer, listener):
            s.close()


def test_close_connection_does_not_wait_for_another_threads_stuck_send(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), send_timeout=60.0, close_timeout=1.0)
    took = _handler_state(server, "/flood_close")["took"]
    took.clear()
    with _non_reading_client(server, "/flood_close") as ws:
        ws.send_text("close now")
        assert _settle(lambda: bool(took), 10)
        assert took[0] < 1.0 + 1.0  # the close timeout, not the 60 s send timeout
        assert _settle(lambda: server.connection_count() == 0)


def test_async_handlers_on_the_threaded_engine_fail_loudly(
    start_server: Callable[..., ThreadedServer],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """``async def`` handler functions need --engine asyncio: on the threaded engine
    the coroutine would never run, so neither may pass for a hook or a handler that
    returned at once. An async extra handshake is refused with 403 (logged, as any
    failing hook); an async transfer_data fails as a handler bug: logged, TCP
    dropped without a Close frame."""
    (tmp_path / "ahook_wsh.py").write_text(
        "async def web_socket_do_extra_handshake(request):\n    pass\n\n"
        "def web_socket_transfer_data(request):\n    pass\n"
    )
    (tmp_path / "atransfer_wsh.py").write_text(
        "def web_socket_do_extra_handshake(request):\n    pass\n\n"
        "async def web_socket_transfer_data(request):\n    pass\n"
    )
    server = start_server(websock_handlers=str(tmp_path), document_root=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="mod_pywebsocket.session"):
        with RawWebSocket(server.server_port) as ws:
            ws.upgrade("/ahook")
            assert ws.read_head()[0] == 403
        with RawWebSocket(server.server_port) as ws:
            ws.upgrade("/atransfer")
            assert ws.read_head()[0] == 101
            data, _ = ws.drain_until_eof(5.0)
        assert data == b""  # no Close frame: the connection was dropped
        deadline = time.monotonic() + 5
        while "async def web_socket_transfer_data runs on the asyncio engine" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    assert "async def web_socket_do_extra_handshake runs on the asyncio engine" in caplog.text
