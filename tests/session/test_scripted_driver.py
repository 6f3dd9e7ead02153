"""The session layer end to end with no sockets: a scripted client, a real ``_wsh.py``.

The second driver (``scripted.py``) and the threaded driver's session loop
(``server/session.py`` over a scripted transport) run the same script; both
must write the same bytes, since both are thin loops over the same layer.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from mod_pywebsocket.handlers.dispatch import Dispatcher
from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.protocol.handshake import accept_response
from mod_pywebsocket.server.session import RawConnection, handle_upgrade
from mod_pywebsocket.session.handshake import Reject
from mod_pywebsocket.session.http1 import RequestHeadReader
from tests.protocol.helpers import client_frame, close_body

from .scripted import serve

HANDLERS = Path(__file__).resolve().parents[1] / "server" / "handlers"
API_HANDLERS = Path(__file__).resolve().parents[1] / "api" / "handlers"
KEY = base64.b64encode(b"0123456789abcdef").decode()
OPTIONS = ServerOptions(websock_handlers=str(HANDLERS))


def upgrade(path: str, *extra: str, version: str = "13") -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: example.test",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        f"Sec-WebSocket-Version: {version}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class ScriptTransport:
    """The threaded session's Transport over the same script."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = [chunk for chunk in chunks if chunk]
        self.out: list[bytes] = []

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        data, rest = self.chunks[0][:size], self.chunks[0][size:]
        if rest:
            self.chunks[0] = rest
        else:
            self.chunks.pop(0)
        return data

    def send(self, data: bytes | bytearray | memoryview) -> None:
        self.out.append(bytes(data))

    def sendv(self, chunks: list[bytes]) -> None:
        self.out.append(b"".join(chunks))

    def set_timeout(self, timeout: float | None) -> None:
        pass

    def abort(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def shutdown_write(self) -> bool:
        return False


def threaded_serve(script: list[bytes], dispatcher: Dispatcher, options: ServerOptions) -> bytes:
    reader = RequestHeadReader.for_options(options)
    chunks = list(script)
    head = None
    while chunks and head is None:
        head = reader.feed(chunks.pop(0))
    assert head is not None and not isinstance(head, Reject)
    transport = ScriptTransport([reader.rest, *chunks])
    handle_upgrade(head, RawConnection(transport, None, None), dispatcher, options)
    return b"".join(transport.out)


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(str(HANDLERS))


def both(script: list[bytes], dispatcher: Dispatcher, options: ServerOptions = OPTIONS) -> bytes:
    ours = serve(script, dispatcher, options)
    assert threaded_serve(script, dispatcher, options) == ours
    return ours


def test_echo_handshake_messages_ping_and_close(dispatcher: Dispatcher) -> None:
    script = [
        upgrade("/echo"),
        client_frame(1, b"hello"),
        client_frame(2, b"\x00\x01"),
        client_frame(9, b"ping") + client_frame(1, "é".encode()),
        client_frame(8, close_body(1000, b"bye")),
    ]
    out = both(script, dispatcher)
    assert out == (
        accept_response(KEY)
        + b"\x81\x05hello"
        + b"\x82\x02\x00\x01"
        + b"\x8a\x04ping"
        + b"\x81\x02"
        + "é".encode()
        + b"\x88\x02\x03\xe8"
    )


def test_handshake_split_at_every_byte(dispatcher: Dispatcher) -> None:
    head = upgrade("/echo")
    script = [head[i : i + 1] for i in range(len(head))] + [client_frame(8)]
    assert both(script, dispatcher) == accept_response(KEY) + b"\x88\x02\x03\xe8"


def test_handler_says_goodbye_and_closes_first(dispatcher: Dispatcher) -> None:
    script = [upgrade("/echo") + client_frame(1, b"Goodbye"), client_frame(8, close_body(1000))]
    assert both(script, dispatcher) == (
        accept_response(KEY) + b"\x81\x07Goodbye" + b"\x88\x02\x03\xe8"
    )


def test_protocol_failure_closes_with_its_code_only(dispatcher: Dispatcher) -> None:
    script = [upgrade("/echo"), client_frame(1, b"x", masked=False)]
    assert both(script, dispatcher) == accept_response(KEY) + b"\x88\x02\x03\xea"


def test_invalid_utf8_closes_with_1007(dispatcher: Dispatcher) -> None:
    script = [upgrade("/echo"), client_frame(1, b"\xff")]
    assert both(script, dispatcher) == accept_response(KEY) + b"\x88\x02\x03\xef"


def test_end_of_stream_without_close_sends_nothing_more(dispatcher: Dispatcher) -> None:
    script = [upgrade("/echo"), client_frame(1, b"a")]
    assert both(script, dispatcher) == accept_response(KEY) + b"\x81\x01a"


def test_refusals(dispatcher: Dispatcher) -> None:
    missing = both([upgrade("/nothing-here")], dispatcher)
    assert missing.startswith(b"HTTP/1.1 404 Not Found\r\n")
    old = both([upgrade("/echo", version="7")], dispatcher)
    assert old.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\nSec-WebSocket-Version: 13, 8\r\n" in old


def test_passive_closing_handshake_and_ping_hooks() -> None:
    dispatcher = Dispatcher(str(API_HANDLERS))
    options = ServerOptions(websock_handlers=str(API_HANDLERS))
    script = [upgrade("/passive?code"), client_frame(8, close_body(1001, b"away"))]
    assert both(script, dispatcher, options) == (
        accept_response(KEY) + b"\x88\x0e\x0f\xa1custom reply"
    )
    script = [
        upgrade("/pingpong"),
        client_frame(9, b"hi") + client_frame(10, b"from server"),
        client_frame(8),
    ]
    out = both(script, dispatcher, options)
    assert out == (
        accept_response(KEY)
        + b"\x89\x0bfrom server"
        + b"\x81\x0dping seen: hi"
        + b"\x81\x16pong seen: from server"
        + b"\x88\x02\x03\xe8"
    )


def test_a_random_script_gives_the_same_bytes_in_both_drivers(dispatcher: Dispatcher) -> None:
    rng = os.urandom(64)
    frames = b"".join(client_frame(1 + (b & 1), bytes([0x41 + b % 26]) * (b % 7)) for b in rng)
    frames += client_frame(8, close_body(1000))
    script = [upgrade("/echo")] + [frames[i : i + 13] for i in range(0, len(frames), 13)]
    out = both(script, dispatcher)
    assert out.endswith(b"\x88\x02\x03\xe8")


def test_passive_close_variants() -> None:
    dispatcher = Dispatcher(str(API_HANDLERS))
    options = ServerOptions(websock_handlers=str(API_HANDLERS))
    # The handler echoes the peer's code; an empty body is 1005, echoed as an empty body.
    assert both([upgrade("/passive"), client_frame(8)], dispatcher, options) == (
        accept_response(KEY) + b"\x88\x00"
    )
    assert (
        both([upgrade("/passive?none"), client_frame(8, close_body(1000))], dispatcher, options)
        == accept_response(KEY) + b"\x88\x00"
    )
    # AbortedByUserException from the passive handler: no reply at all.
    assert both(
        [upgrade("/passive?abort"), client_frame(8, close_body(1000))], dispatcher, options
    ) == accept_response(KEY)


def test_data_where_the_answer_to_our_close_should_be(dispatcher: Dispatcher) -> None:
    # The handler returns after "Goodbye"; the server's Close is answered with data:
    # the wait ends, nothing more is written (the driver then drops TCP).
    script = [
        upgrade("/echo") + client_frame(1, b"Goodbye"),
        client_frame(1, b"late"),
        client_frame(8, close_body(1000)),
    ]
    assert both(script, dispatcher) == (
        accept_response(KEY) + b"\x81\x07Goodbye" + b"\x88\x02\x03\xe8"
    )


def test_pings_while_waiting_for_the_answer_to_our_close(dispatcher: Dispatcher) -> None:
    script = [
        upgrade("/echo") + client_frame(1, b"Goodbye"),
        client_frame(9, b"p"),
        client_frame(8, close_body(1000)),
    ]
    assert both(script, dispatcher) == (
        accept_response(KEY) + b"\x81\x07Goodbye" + b"\x88\x02\x03\xe8" + b"\x8a\x01p"
    )
