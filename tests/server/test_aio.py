"""The asyncio engine (server/aio.py): async and blocking handlers over one event loop."""

from __future__ import annotations

import contextlib
import dataclasses
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server.aio import AioServer
from tests.rawclient import RawWebSocket, masked_frame, opened
from tests.serving import serving

HANDLERS = Path(__file__).resolve().parent / "aio_handlers"


@pytest.fixture
def start_aio() -> Iterator[Callable[..., AioServer]]:
    base = ServerOptions(
        server_host="127.0.0.1",
        port=0,
        websock_handlers=str(HANDLERS),
        document_root=str(HANDLERS),
        engine="asyncio",
        close_timeout=2.0,
    )
    with contextlib.ExitStack() as servers:
        yield lambda **overrides: servers.enter_context(
            serving(AioServer(dataclasses.replace(base, **overrides)))
        )


@pytest.fixture
def server(start_aio: Callable[..., AioServer]) -> AioServer:
    return start_aio()


def close_code(payload: bytes) -> int | None:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


@pytest.mark.parametrize("resource", ["/aecho", "/echo"])
def test_text_binary_fragmented_ping_and_close(server: AioServer, resource: str) -> None:
    with opened(server.server_port, resource) as ws:
        ws.send_text("héllo")
        assert ws.read_frame() == (0x1, "héllo".encode())
        big = bytes(range(256)) * 1000
        ws.send_frame(0x2, big)
        assert ws.read_frame() == (0x2, big)
        # A fragmented message with a Ping between its fragments.
        ws.send(
            masked_frame(0x1, b"frag", fin=False)
            + masked_frame(0x9, b"p")
            + masked_frame(0x0, b"ment")
        )
        assert ws.read_frame() == (0xA, b"p")
        assert ws.read_frame() == (0x1, b"fragment")
        # Many frames in one write: all answered.
        ws.send(b"".join(masked_frame(0x1, str(i).encode()) for i in range(50)))
        assert [ws.read_frame()[1] for _ in range(50)] == [str(i).encode() for i in range(50)]
        ws.send_close(1000)
        opcode, payload = ws.read_frame()
        assert opcode == 0x8 and close_code(payload) == 1000
        _, closed_after = ws.drain_until_eof(5)
        assert closed_after is not None


def test_async_close_connection_with_a_code(server: AioServer) -> None:
    with opened(server.server_port, "/aecho") as ws:
        ws.send_text("close:4321")
        opcode, payload = ws.read_frame()
        assert opcode == 0x8 and close_code(payload) == 4321 and payload[2:] == b"bye"
        ws.send_close(4321)
        _, closed_after = ws.drain_until_eof(5)
        assert closed_after is not None


@pytest.mark.parametrize("message, code", [("bad-operation", 1011), ("binary-str", 1011)])
def test_async_exceptions_map_to_close_codes(server: AioServer, message: str, code: int) -> None:
    with opened(server.server_port, "/araise") as ws:
        ws.send_text(message)
        opcode, payload = ws.read_frame()
        assert (opcode, close_code(payload)) == (0x8, code)


def test_async_handler_bug_drops_tcp_without_close(server: AioServer) -> None:
    with opened(server.server_port, "/araise") as ws:
        ws.send_text("anything")
        extra, closed_after = ws.drain_until_eof(5)
        assert extra == b"" and closed_after is not None


def test_invalid_utf8_fails_with_1007(server: AioServer) -> None:
    with opened(server.server_port, "/aecho") as ws:
        ws.send_frame(0x1, b"\xff\xfe")
        opcode, payload = ws.read_frame()
        assert (opcode, close_code(payload)) == (0x8, 1007)


def test_async_passive_closing_and_ping_hook(server: AioServer) -> None:
    with opened(server.server_port, "/apassive") as ws:
        ws.send_frame(0x9, b"abc")
        assert ws.read_frame() == (0x1, b"ping:abc")
        ws.send_close(1000)
        opcode, payload = ws.read_frame()
        assert (opcode, close_code(payload), payload[2:]) == (0x8, 4001, b"passive")


@pytest.mark.parametrize(
    "target, status", [("/nothing", 404), ("/aecho#frag", 400), ("/araise?reject", 403)]
)
def test_refusals(server: AioServer, target: str, status: int) -> None:
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade(target)
        assert ws.read_head()[0] == status


def test_bad_request_line_is_400(server: AioServer) -> None:
    with RawWebSocket(server.server_port) as ws:
        ws.send(b"GET /aecho HTTP/1.1\nHost: x\r\n\r\n")
        assert ws.read_head()[0] == 400


def test_handshake_timeout_is_408(start_aio: Callable[..., AioServer]) -> None:
    server = start_aio(handshake_timeout=0.3)
    with RawWebSocket(server.server_port) as ws:
        ws.send(b"GET /aecho HTTP/1.1\r\n")
        assert ws.read_head()[0] == 408


def test_max_connections_answers_503(start_aio: Callable[..., AioServer]) -> None:
    server = start_aio(max_connections=1)
    with opened(server.server_port, "/aecho"):
        with RawWebSocket(server.server_port) as second:
            second.upgrade("/aecho")
            assert second.read_head()[0] == 503


def test_message_size_limit_is_1009(start_aio: Callable[..., AioServer]) -> None:
    server = start_aio(max_message_size=1000)
    with opened(server.server_port, "/aecho") as ws:
        ws.send_frame(0x2, b"x" * 2000)
        opcode, payload = ws.read_frame()
        assert (opcode, close_code(payload)) == (0x8, 1009)


def test_idle_timeout_closes_with_1001(start_aio: Callable[..., AioServer]) -> None:
    server = start_aio(idle_timeout=0.3)
    for resource in ("/aecho", "/echo"):
        with opened(server.server_port, resource) as ws:
            opcode, payload = ws.read_frame()
            assert (opcode, close_code(payload)) == (0x8, 1001)


def test_shutdown_sends_1001_to_async_and_blocking(start_aio: Callable[..., AioServer]) -> None:
    server = start_aio()
    clients = [opened(server.server_port, r) for r in ("/ahang", "/hang")]
    deadline = time.monotonic() + 5
    while server.connection_count() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # both streams open
    server.shutdown()
    server.server_close()
    closer = threading.Thread(target=server.close_connections, kwargs={"grace": 3.0})
    closer.start()
    try:
        for ws in clients:
            opcode, payload = ws.read_frame()
            assert (opcode, close_code(payload)) == (0x8, 1001)
            ws.send_close(1001)
    finally:
        closer.join(10)
        for ws in clients:
            ws.close()
    assert server.connection_count() == 0


def test_static_file_and_404(server: AioServer) -> None:
    with RawWebSocket(server.server_port) as ws:
        ws.request("/aecho_wsh.py")
        status, headers, _ = ws.read_head()
        assert status == 200
        body = ws.read_body(int(headers["content-length"]))
        assert body == (HANDLERS / "aecho_wsh.py").read_bytes()
    with RawWebSocket(server.server_port) as ws:
        ws.request("/missing.html")
        assert ws.read_head()[0] == 404


def test_concurrent_clients_with_websockets_library(server: AioServer) -> None:
    from websockets.sync.client import connect

    def talk(resource: str, n: int) -> None:
        with connect(f"ws://127.0.0.1:{server.server_port}{resource}") as ws:
            for i in range(n):
                ws.send(f"{resource}{i}")
                assert ws.recv() == f"{resource}{i}"

    threads = [threading.Thread(target=talk, args=(r, 50)) for r in ("/aecho", "/echo") * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)


def test_peer_that_does_not_read_is_cut_after_the_send_timeout(
    start_aio: Callable[..., AioServer],
) -> None:
    server = start_aio(send_timeout=0.5)
    ws = opened(server.server_port, "/aecho", receive_buffer=4096)
    try:
        chunk = masked_frame(0x2, b"x" * 60000)
        deadline = time.monotonic() + 10
        ws.sock.settimeout(0.2)
        # Keep sending without reading: the server's echoes back up, its sender times out.
        while time.monotonic() < deadline:
            try:
                ws.sock.sendall(chunk)
            except (TimeoutError, OSError):
                break
        while server.connection_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connection_count() == 0
    finally:
        ws.close()


def test_sigterm_closes_with_1001_on_the_command_line() -> None:
    import signal

    from tests.server.process import ServerProcess

    server = ServerProcess("-w", str(HANDLERS), "-d", str(HANDLERS), "--engine", "asyncio")
    try:
        clients = [opened(server.port, r) for r in ("/ahang", "/hang")]
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        for ws in clients:
            opcode, payload = ws.read_frame()
            assert (opcode, close_code(payload)) == (0x8, 1001)
            ws.send_close(1001)
        assert server.proc.wait(10) == 0
    finally:
        for ws in clients:
            ws.close()
        if server.proc.poll() is None:
            server.stop()


def test_wss_with_async_and_blocking_handlers(
    start_aio: Callable[..., AioServer], tmp_path: Path
) -> None:
    import ssl

    import trustme

    from tests.wssclient import connect

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    server = start_aio(
        use_tls=True, certificate=str(tmp_path / "cert.pem"), private_key=str(tmp_path / "key.pem")
    )
    context = ssl.create_default_context()
    ca.configure_trust(context)
    for resource in ("/aecho", "/echo"):
        with connect(f"wss://127.0.0.1:{server.server_port}{resource}", context) as ws:
            ws.send("secure")
            assert ws.recv() == "secure"
            ws.send(b"\x01" * 300_000)
            assert ws.recv() == b"\x01" * 300_000


def test_basic_auth(start_aio: Callable[..., AioServer]) -> None:
    import base64

    server = start_aio(use_basic_auth=True, basic_auth_credential="user:secret")
    for credential, status in ((None, 401), ("user:wrong", 401), ("user:secret", 101)):
        extra = (
            {}
            if credential is None
            else {"Authorization": "Basic " + base64.b64encode(credential.encode()).decode()}
        )
        with RawWebSocket(server.server_port) as ws:
            ws.upgrade("/aecho", extra)
            assert ws.read_head()[0] == status


def test_async_fragmented_send(server: AioServer) -> None:
    with opened(server.server_port, "/aecho") as ws:
        ws.send_text("fragments:abc")
        frames = []
        while True:
            b0 = ws.read_exact(1)[0]
            ws.buf = bytes([b0]) + ws.buf
            frames.append(ws.read_frame())
            if b0 & 0x80:
                break
        assert frames == [(0x1, b"a"), (0x0, b"b"), (0x0, b"c"), (0x0, b"")]


def test_embedding_server_picks_the_asyncio_engine() -> None:
    from websockets.sync.client import connect

    from mod_pywebsocket import Server

    options = ServerOptions(
        server_host="127.0.0.1",
        port=0,
        websock_handlers=str(HANDLERS),
        document_root=str(HANDLERS),
        engine="asyncio",
    )
    with Server(options) as server:
        assert "/aecho" in server.resources
        with connect(f"ws://127.0.0.1:{server.port}/aecho") as ws:
            ws.send("embedded")
            assert ws.recv() == "embedded"
            assert server.connection_count() == 1


def test_http2_is_refused_on_the_asyncio_engine() -> None:
    """--http2 is the threaded engine's (server/http2.py): asked of the asyncio one,
    the server must not start rather than serve HTTP/1.1 only."""
    options = ServerOptions(
        server_host="127.0.0.1",
        port=0,
        websock_handlers=str(HANDLERS),
        engine="asyncio",
        http2=True,
    )
    with pytest.raises(ValueError, match="threaded engine only"):
        AioServer(options)


def test_stream_gate_serves_in_order_and_survives_cancellation() -> None:
    """The streams' read and write gate: first come first served, a waiter
    cancelled before its turn leaves the queue, one cancelled as it was
    handed the gate passes it on, and a newcomer cannot pass a woken waiter."""
    import asyncio

    from mod_pywebsocket.server.aio import _Gate

    async def scenario() -> list[str]:
        gate = _Gate()
        order: list[str] = []
        assert gate.take_nowait() and gate.locked() and not gate.take_nowait()

        async def user(name: str) -> None:
            async with gate:
                order.append(name)
                await asyncio.sleep(0)

        first = asyncio.create_task(user("a"))
        cancelled = asyncio.create_task(user("cancelled"))
        second = asyncio.create_task(user("b"))
        await asyncio.sleep(0)  # all three queued behind the holder
        cancelled.cancel()
        await asyncio.sleep(0)
        gate.release()  # handed to "a"; a newcomer must queue behind "b"
        assert gate.locked() and not gate.take_nowait()
        late = asyncio.create_task(user("late"))
        await asyncio.gather(first, second, late, cancelled, return_exceptions=True)
        assert not gate.locked()

        # Cancelled in the same iteration as the hand-over: the turn goes on.
        assert gate.take_nowait()
        doomed = asyncio.create_task(gate.acquire())
        after = asyncio.create_task(user("after"))
        await asyncio.sleep(0)
        gate.release()  # "doomed" is handed the gate ...
        doomed.cancel()  # ... and cancelled before it runs
        await asyncio.gather(doomed, after, return_exceptions=True)
        assert doomed.cancelled() and not gate.locked()
        return order

    assert asyncio.run(scenario()) == ["a", "b", "late", "after"]


def test_timeouts_leave_no_reference_cycle_holding_the_connection(
    start_aio: Callable[..., AioServer],
) -> None:
    """A read or send that times out wakes its waiter with a value, not an
    exception: an exception stored in a future that a frame keeps is a cycle
    (frame, future, exception, traceback, frame) that holds the connection and
    its buffers until the cyclic collector's next full pass. And the buffers a
    finished session did not read are dropped at once."""
    import gc
    import types

    from mod_pywebsocket.server.aio import _Channel

    server = start_aio(idle_timeout=0.3)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        with opened(server.server_port, "/aecho") as ws:
            # An unread frame after the idle timeout's Close: the session never reads it.
            opcode, payload = ws.read_frame()
            assert (opcode, close_code(payload)) == (0x8, 1001)
            ws.send(masked_frame(0x2, b"u" * 50_000))
            ws.drain_until_eof(5)
        deadline = time.monotonic() + 5
        while server.connection_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    frames = [o.f_code.co_name for o in garbage if isinstance(o, types.FrameType)]
    assert "read" not in frames and "drain" not in frames, frames
    assert not [o for o in garbage if isinstance(o, TimeoutError)]
    channels = [o for o in garbage if isinstance(o, _Channel)]
    assert all(not channel._chunks for channel in channels)
