"""The handler contract (shared/API.md) end to end, with third-party clients and raw sockets."""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path

import pytest
import websocket  # websocket-client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mod_pywebsocket import standalone
from mod_pywebsocket.handlers.dispatch import Dispatcher, DispatchException
from mod_pywebsocket.options import ServerOptions
from tests.rawclient import RawWebSocket

from .conftest import HANDLERS, Deployment


def url(port: int, path: str) -> str:
    return f"ws://127.0.0.1:{port}{path}"


def code_of(payload: bytes) -> int:
    return int(struct.unpack("!H", payload[:2])[0])


def raw(port: int, path: str, extra: dict[str, str] | None = None) -> RawWebSocket:
    ws = RawWebSocket(port)
    ws.upgrade(path, extra)
    return ws


# --- import names and handler styles --------------------------------------------------


def test_pywebsocket3_style_handler(port: int) -> None:
    with connect(url(port, "/pyws3/echo3"), subprotocols=["a", "b"]) as ws:
        assert ws.subprotocol == "b"
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00\xff")
        assert ws.recv() == b"\x00\xff"
        ws.send("opcode")
        assert ws.recv() == "1"
        ws.close()
    assert ws.close_code == 1000 and ws.close_reason == "bye from pywebsocket3"


def test_mod_pywebsocket_style_handler_with_websocket_client(port: int) -> None:
    ws = websocket.create_connection(url(port, "/classic/echo_classic"), timeout=10)
    try:
        ws.send("classic")
        assert ws.recv() == "classic"
        ws.send_binary(b"\x01\x02")
        assert ws.recv() == b"\x01\x02"
        ws.send("raw")
        assert ws.recv() == "made by hand"
        assert ws.recv() == b"\x00\x01"
    finally:
        ws.close()


def test_handler_rejects_an_origin(port: int) -> None:
    with raw(port, "/classic/echo_classic", {"Origin": "http://evil.example"}) as ws:
        assert ws.read_head()[0] == 403


def test_both_import_names_share_one_implementation() -> None:
    import mod_pywebsocket.msgutil
    import pywebsocket3.msgutil
    from pywebsocket3 import common, handshake, stream

    assert pywebsocket3.msgutil is mod_pywebsocket.msgutil
    assert stream.InvalidUTF8Exception is mod_pywebsocket.stream.InvalidUTF8Exception
    assert handshake.AbortedByUserException.__module__.startswith("mod_pywebsocket")
    assert (
        common.STATUS_NORMAL,
        common.STATUS_UNSUPPORTED,
        common.STATUS_CODE_NOT_AVAILABLE,
        common.STATUS_ABNORMAL_CLOSE,
        common.STATUS_INVALID_FRAME_PAYLOAD,
        common.STATUS_MANDATORY_EXT,
    ) == (1000, 1003, 1005, 1006, 1007, 1010)
    assert handshake.hybi.compute_accept(b"dGhlIHNhbXBsZSBub25jZQ==") == (
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    )
    assert stream.create_close_frame(stream.create_closing_handshake_body(1000, "ok")) == (
        b"\x88\x04\x03\xe8ok"
    )
    assert stream.create_header(1, 5, 1, 0, 0, 0, False) == b"\x81\x05"


# --- web_socket_do_extra_handshake ------------------------------------------------------


@pytest.mark.parametrize(
    "mode, status",
    [("status401", 401), ("status_none", 400), ("value_error", 403), ("bad_protocol", 400)],
)
def test_extra_handshake_rejections(port: int, mode: str, status: int) -> None:
    with raw(port, f"/handshake?{mode}") as ws:
        assert ws.read_head()[0] == status


def test_aborted_handshake_drops_the_connection_silently(port: int) -> None:
    with raw(port, "/handshake?abort") as ws:
        data, closed_after = ws.drain_until_eof(5.0)
        assert data == b"" and closed_after is not None


@pytest.mark.http1_only("a handler's own HTTP/1.1 response bytes")
def test_handler_writes_its_own_response(port: int) -> None:
    with raw(port, "/handshake?own_response") as ws:
        data, closed = ws.drain_until_eof(5.0)
        assert data == b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"
        assert closed is not None


@pytest.mark.http1_only("raw bytes before the 101 status line")
def test_handler_bytes_then_the_servers_101(port: int) -> None:
    with raw(port, "/handshake?prefix_then_101") as ws:
        ws.sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            data += ws.sock.recv(4096)
        assert data.startswith(b"X-Garbage: before the status line\r\nHTTP/1.1 101 ")


@pytest.mark.http1_only("the 101 head's bytes as written")
def test_extra_headers_are_written_verbatim(port: int) -> None:
    with raw(port, "/handshake?extra_headers") as ws:
        status, headers, head = ws.read_head()
        assert status == 101
        assert b"X-Verbatim: a\r\nX-Injected: b\r\n" in head


def test_subprotocol_selection_and_request_fields(deployment: Deployment) -> None:
    with raw(
        deployment.port,
        "/handshake?choose_protocol",
        {"Sec-WebSocket-Protocol": "one, two", "X-Custom": "yes"},
    ) as ws:
        status, headers, _ = ws.read_head()
        assert status == 101 and headers["sec-websocket-protocol"] == "two"
        assert ws.read_frame() == (
            1,
            b"fields: /handshake?choose_protocol|"
            b"/handshake?choose_protocol|"
            + (b"CONNECT|HTTP/2" if deployment.http2 else b"GET|HTTP/1.1")
            + b"|yes|"
            b"['one', 'two']",
        )
        assert ws.read_frame() == (1, b"addresses: 127.0.0.1 127.0.0.1")


def test_protocols_offered_but_none_chosen_is_400(port: int) -> None:
    with raw(port, "/handshake", {"Sec-WebSocket-Protocol": "one"}) as ws:
        assert ws.read_head()[0] == 400


def test_dispatch_cuts_the_query_and_does_not_normalise(port: int) -> None:
    with raw(port, "/counter?x=1") as ws:
        assert ws.read_head()[0] == 101
    with raw(port, "/pyws3/../counter") as ws:
        assert ws.read_head()[0] == 404
    with raw(port, "/counter#frag") as ws:
        assert ws.read_head()[0] == 400


# --- web_socket_transfer_data and the close codes ------------------------------------


@pytest.mark.parametrize(
    "name, code",
    [
        ("bad_operation", 1011),
        ("invalid_frame", 1002),
        ("unsupported", 1003),
        ("invalid_utf8", 1007),
    ],
)
def test_exceptions_map_to_close_codes(deployment: Deployment, name: str, code: int) -> None:
    """pywebsocket3's dispatcher: the package's exceptions send their code and no reason."""
    with raw(deployment.port, "/exceptions") as ws:
        assert ws.read_head()[0] == 101
        ws.send_text(name)
        opcode, payload = ws.read_frame()
        assert opcode == 8 and payload == struct.pack("!H", code)


@pytest.mark.parametrize("name", ["terminated", "abort", "value_error"])
def test_exceptions_that_end_without_a_close_frame(deployment: Deployment, name: str) -> None:
    """ConnectionTerminatedException, AbortedByUserException and any ordinary
    exception drop TCP with no Close frame, as pywebsocket3 does: WebKit's
    tests expect the abnormal closure an ordinary exception causes."""
    with raw(deployment.port, "/exceptions") as ws:
        assert ws.read_head()[0] == 101
        ws.send_text(name)
        data, closed = ws.drain_until_eof(5.0)
        assert data == b"" and closed is not None
    if name == "value_error":
        log = deployment.wait_for_log("ValueError: raised on request: value_error")
        assert "Traceback" in log and "ValueError: raised on request: value_error" in log


def passive_closes(
    server: standalone.WebSocketServer, expected: tuple[int, str], timeout: float = 5.0
) -> list[tuple[int, str]]:
    """What /passive's handler recorded, once ``expected`` is there (or the timeout):
    the handler records after the closing handshake, so the client may see it first."""
    suite = server.dispatcher.get_handler_suite("/passive")
    assert suite is not None
    closes: list[tuple[int, str]] = suite.transfer_data.__globals__["closes"]
    deadline = time.monotonic() + timeout
    while expected not in closes and time.monotonic() < deadline:
        time.sleep(0.05)
    return closes


def test_passive_close_echoes_by_default_and_sees_code_and_reason(
    server: standalone.WebSocketServer,
) -> None:
    port = server.server_port
    with connect(url(port, "/passive")) as ws:
        ws.close(3001, "client reason")
    assert (ws.close_code, ws.close_reason) == (3001, "client reason")
    assert (3001, "client reason") in passive_closes(server, (3001, "client reason"))


def test_passive_close_variants(port: int) -> None:
    with raw(port, "/passive?code") as ws:
        assert ws.read_head()[0] == 101
        ws.send_close(1000)
        assert ws.read_frame() == (8, struct.pack("!H", 4001) + b"custom reply")
    with raw(port, "/passive?none") as ws:
        assert ws.read_head()[0] == 101
        ws.send_close(1000)
        assert ws.read_frame() == (8, b"")
    with raw(port, "/passive?abort") as ws:
        assert ws.read_head()[0] == 101
        ws.send_close(1000)
        assert ws.drain_until_eof(5.0)[0] == b""


def test_empty_close_body_gives_1005(server: standalone.WebSocketServer) -> None:
    port = server.server_port
    with raw(port, "/passive") as ws:
        assert ws.read_head()[0] == 101
        ws.send_frame(0x8, b"")
        assert ws.read_frame() == (8, b"")  # echoing "no status" sends an empty body
    assert (1005, "") in passive_closes(server, (1005, ""))


def test_ping_and_pong_hooks(port: int) -> None:
    with raw(port, "/pingpong") as ws:
        assert ws.read_head()[0] == 101
        assert ws.read_frame() == (9, b"from server")
        ws.send_frame(0xA, b"answer")
        assert ws.read_frame() == (1, b"pong seen: answer")
        ws.send_frame(0x9, b"are you there")
        assert ws.read_frame() == (1, b"ping seen: are you there")  # no automatic pong


def test_automatic_pong(port: int) -> None:
    with raw(port, "/classic/echo_classic") as ws:
        assert ws.read_head()[0] == 101
        ws.send_frame(0x9, b"ping!")
        assert ws.read_frame() == (0xA, b"ping!")


def test_stream_rules(port: int) -> None:
    with raw(port, "/stream_rules") as ws:
        assert ws.read_head()[0] == 101
        texts = [ws.read_frame()[1] for _ in range(7)]
        assert texts == [
            b"str as binary: refused",
            b"ping of 126 bytes: refused",
            b"close 999: refused",
            b"close 1005: refused",
            b"close 1006: refused",
            b"close 1015: refused",
            b"close 5000: refused",
        ]
        assert ws.read_frame() == (1, b"frag")  # the raw client sees the fragments
        assert ws.read_frame() == (0, b"ment")
        assert ws.read_frame() == (0, b"ed")
        assert ws.read_frame() == (2, b"\x01\x02")
        assert ws.read_frame() == (0, b"\x03")
        opcode, payload = ws.read_frame()
        assert opcode == 8 and payload == struct.pack("!H", 1000) + b"closing first"
        ws.send_close(1000)
        assert ws.drain_until_eof(5.0)[0] == b""  # 'send after close' raised, sent nothing


def test_fragments_reassemble_for_a_real_client(port: int) -> None:
    with connect(url(port, "/stream_rules")) as ws:
        messages = []
        try:
            while True:
                messages.append(ws.recv(timeout=5))
        except ConnectionClosed:
            pass
    assert messages[7:] == ["fragmented", b"\x01\x02\x03"]


def test_one_thread_receives_while_another_sends(port: int) -> None:
    with connect(url(port, "/threads")) as ws:
        for i in range(500):
            ws.send(f"from client {i}")
        got = [ws.recv(timeout=10) for _ in range(501)]
    assert sorted(m for m in got if m.startswith("from sender")) == sorted(
        f"from sender {i}" for i in range(500)
    )
    assert got[-1] == "received 500"  # sent after the sender thread finished


@pytest.mark.parametrize("mode", ["", "onmessage"])
def test_message_receiver_and_sender(port: int, mode: str) -> None:
    with connect(url(port, f"/queues?{mode}")) as ws:
        for word in ("one", "two", "three"):
            ws.send(word)
        prefix = "callback: " if mode else "queued: "
        assert [ws.recv(timeout=10) for _ in range(3)] == [
            prefix + w for w in ("one", "two", "three")
        ]


def test_module_state_is_shared_between_connections(port: int) -> None:
    numbers = []
    for _ in range(3):
        with connect(url(port, "/counter")) as ws:
            numbers.append(int(ws.recv(timeout=5).split()[1]))
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


# --- loading handlers ----------------------------------------------------------------


def test_broken_handlers_are_reported_with_file_and_line_and_others_serve() -> None:
    broken = HANDLERS.parent / "broken"
    dispatcher = Dispatcher(str(broken))
    warnings = "\n".join(dispatcher.source_warnings())
    assert f"{broken / 'syntax_wsh.py'}:4:" in warnings and "SyntaxError" in warnings
    assert f"{broken / 'import_error_wsh.py'}:3:" in warnings and "broken at import" in warnings
    assert "missing_wsh.py" in warnings and "web_socket_transfer_data not defined" in warnings
    assert dispatcher.resources() == ["/good"]


def test_symlinked_handler_outside_the_root(tmp_path: pytest.TempPathFactory) -> None:
    root = tmp_path / "root"  # type: ignore[operator]
    outside = tmp_path / "outside"  # type: ignore[operator]
    root.mkdir()
    outside.mkdir()
    (outside / "far_wsh.py").write_text((HANDLERS.parent / "broken" / "good_wsh.py").read_text())
    (root / "far_wsh.py").symlink_to(outside / "far_wsh.py")
    assert Dispatcher(str(root)).resources() == []
    assert Dispatcher(str(root), allow_handlers_outside_root_dir=True).resources() == ["/far"]


def test_scan_dir_must_be_inside_the_root(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(DispatchException):
        Dispatcher(str(HANDLERS), scan_dir=str(HANDLERS.parent / "broken"))
    assert Dispatcher(str(HANDLERS), scan_dir=str(HANDLERS / "pyws3")).resources() == [
        "/pyws3/echo3"
    ]


def test_alias_map_file(tmp_path: pytest.TempPathFactory) -> None:
    map_file = tmp_path / "aliases"  # type: ignore[operator]
    map_file.write_text(
        "# aliases\n/ /counter\n/also /pyws3/echo3  # trailing\n/bad /missing\nnot-two-fields\n"
    )
    dispatcher = Dispatcher(str(HANDLERS))
    dispatcher.load_alias_file(str(map_file))
    assert dispatcher.get_handler_suite("/") is dispatcher.get_handler_suite("/counter")
    assert dispatcher.get_handler_suite("/also?q") is not None
    assert any("/missing" in w for w in dispatcher.source_warnings())
    assert any("expected 'alias existing'" in w for w in dispatcher.source_warnings())


def test_handler_for_applies_the_fragment_rule() -> None:
    """A fragment on a resource with a handler is 400; without a handler it stays 404."""
    from mod_pywebsocket import dispatch

    for dispatcher in (Dispatcher(str(HANDLERS)), dispatch.Dispatcher(str(HANDLERS))):
        counter = dispatcher.get_handler_suite("/counter")
        assert counter is not None
        assert dispatcher.handler_for("/counter?x=1") is counter
        assert dispatcher.handler_for("/nothing-here#f") is None
        with pytest.raises(DispatchException) as caught:
            dispatcher.handler_for("/counter?x=1#f")
        assert caught.value.status == 400
    with pytest.raises(DispatchException):  # pywebsocket3's Dispatcher applies it on lookup
        dispatch.Dispatcher(str(HANDLERS)).get_handler_suite("/counter#f")


def test_dispatcher_from_options_loads_handlers_and_aliases_and_logs_problems(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What every driver builds: the handlers and map file the options name, each
    loading problem logged once as a warning."""
    broken = HANDLERS.parent / "broken"
    map_file = tmp_path / "aliases"
    map_file.write_text("/alias /good\n")
    options = ServerOptions(websock_handlers=str(broken), websock_handlers_map_file=str(map_file))
    logger = logging.getLogger("tests.dispatch")
    with caplog.at_level(logging.WARNING, logger="tests.dispatch"):
        dispatcher = Dispatcher.from_options(options, logger)
    assert dispatcher.resources() == ["/alias", "/good"]
    problems = [r.getMessage() for r in caplog.records if r.name == "tests.dispatch"]
    assert len(problems) == len(dispatcher.source_warnings()) == 3
    assert all(p.startswith("handler problem: ") for p in problems)
    scan = ServerOptions(websock_handlers=str(HANDLERS), scan_dir=str(HANDLERS / "pyws3"))
    assert Dispatcher.from_options(scan).resources() == ["/pyws3/echo3"]
    with pytest.raises(OSError):
        Dispatcher.from_options(
            ServerOptions(
                websock_handlers=str(broken), websock_handlers_map_file=str(tmp_path / "no")
            )
        )
