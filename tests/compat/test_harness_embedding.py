"""The way web-platform-tests embeds pywebsocket3 for WebSockets over HTTP/2.

wptserve subclasses ``handshake.base.HandshakerBase`` (RFC 8441: CONNECT,
``:protocol``, no Sec-WebSocket-Key), builds a ``dispatch.Dispatcher`` over
its handler root, runs ``do_handshake`` and then ``dispatcher.transfer_data``
in a worker thread, and carries the WebSocket bytes itself: the client's
DATA frames go into a pipe that ``request.connection.read(n)`` reads (it
blocks until n bytes), and ``write`` hands bytes to its HTTP/2 stream. This
test plays the HTTP/2 side with a pipe and a list, and the handlers are the
suite's own, unchanged, imported under the ``pywebsocket3`` name.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from pywebsocket3 import common
from pywebsocket3.dispatch import Dispatcher
from pywebsocket3.handshake import AbortedByUserException, HandshakeException
from pywebsocket3.handshake.base import (
    HandshakerBase,
    get_mandatory_header,
    validate_mandatory_header,
)
from tests.rawclient import masked_frame

HANDLERS = Path(__file__).resolve().parents[1] / "api" / "handlers"


class H2Handshaker(HandshakerBase):
    """What wptserve's WsH2Handshaker does (written here from RFC 8441)."""

    def _transform_header(self, header: str) -> str:
        return header.lower()

    def _protocol_rfc(self) -> str:
        return "RFC 8441"

    def _validate_request(self) -> None:
        if self._request.method != "CONNECT":
            raise HandshakeException(f"Method is not CONNECT: {self._request.method!r}")
        validate_mandatory_header(self._request, ":protocol", "websocket")
        get_mandatory_header(self._request, "authority")

    def _set_accept(self) -> None:
        pass  # no Sec-WebSocket-Accept over HTTP/2

    def _send_handshake(self) -> None:
        request = self._request
        request.status = 200
        if request.ws_protocol is not None:
            request.headers_out["sec-websocket-protocol"] = request.ws_protocol
        if request.ws_extensions:
            request.headers_out["sec-websocket-extensions"] = common.format_extensions(
                request.ws_extensions
            )
        for name, value in request.extra_headers:
            request.headers_out[name] = value


class PipeConnection:
    """request.connection: reads block on a pipe, writes are collected."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.rfile = os.fdopen(read_fd, "rb")
        self.wfile = os.fdopen(write_fd, "wb", 0)
        self.remote_addr = ("127.0.0.1", 50000)
        self.written = bytearray()
        self.wrote = threading.Condition()

    def read(self, length: int) -> bytes:
        return self.rfile.read(length)

    def write(self, data: bytes) -> None:
        with self.wrote:
            self.written += data
            self.wrote.notify_all()

    def frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The next frame the server wrote (unmasked)."""
        with self.wrote:

            def complete() -> bool:
                if len(self.written) < 2:
                    return False
                n = self.written[1] & 0x7F
                head = 2 + (2 if n == 126 else 8 if n == 127 else 0)
                if len(self.written) < head:
                    return False
                if n == 126:
                    n = struct.unpack("!H", self.written[2:4])[0]
                elif n == 127:
                    n = struct.unpack("!Q", self.written[2:10])[0]
                return len(self.written) >= head + n

            assert self.wrote.wait_for(complete, timeout), bytes(self.written)
            n = self.written[1] & 0x7F
            head = 2 + (2 if n == 126 else 8 if n == 127 else 0)
            if n == 126:
                n = struct.unpack("!H", self.written[2:4])[0]
            elif n == 127:
                n = struct.unpack("!Q", self.written[2:10])[0]
            opcode, payload = self.written[0] & 0x0F, bytes(self.written[head : head + n])
            del self.written[: head + n]
            return opcode, payload


class H2Request:
    """wptserve's _WebSocketRequest: a mod_python-like request over one h2 stream."""

    def __init__(self, path: str, headers: dict[str, str]) -> None:
        self.connection = PipeConnection()
        self.protocol = "HTTP/2"
        self.uri = self.unparsed_uri = path
        self.method = "CONNECT"
        self.headers_in = {
            ":protocol": "websocket",
            "authority": "127.0.0.1",
            "sec-websocket-version": "13",
            **headers,
        }
        self.headers_out: dict[str, str] = {}
        self.status: int | None = None


def handshake(path: str, **headers: str) -> tuple[H2Request, Dispatcher]:
    dispatcher = Dispatcher(str(HANDLERS), None, False)
    assert dispatcher.get_handler_suite(path.partition("?")[0]) is not None
    request = H2Request(path, headers)
    H2Handshaker(request, dispatcher).do_handshake()
    request._dispatcher = dispatcher  # type: ignore[attr-defined]
    return request, dispatcher


def run_transfer(request: Any, dispatcher: Dispatcher) -> threading.Thread:
    thread = threading.Thread(target=dispatcher.transfer_data, args=(request,), daemon=True)
    thread.start()
    return thread


def test_echo_over_the_harness_transport() -> None:
    request, dispatcher = handshake("/pyws3/echo3", **{"sec-websocket-protocol": "a, b"})
    assert request.status == 200 and request.headers_out == {"sec-websocket-protocol": "b"}
    thread = run_transfer(request, dispatcher)
    wfile = request.connection.wfile
    wfile.write(masked_frame(0x1, "héllo".encode()))
    assert request.connection.frame() == (0x1, "héllo".encode())
    # wptserve's request object has no on_ping_handler: the Ping is answered anyway.
    assert not hasattr(request, "on_ping_handler")
    wfile.write(masked_frame(0x9, b"ping?"))
    assert request.connection.frame() == (0xA, b"ping?")
    big = os.urandom(70000)  # a 64-bit length, read in exact pieces from the pipe
    wfile.write(masked_frame(0x2, big))
    assert request.connection.frame() == (0x2, big)
    wfile.write(masked_frame(0x8, struct.pack("!H", 1000)))
    # The passive closing handshake answers through request._dispatcher.
    assert request.connection.frame() == (0x8, struct.pack("!H", 1000) + b"bye from pywebsocket3")
    thread.join(5)
    assert not thread.is_alive()
    assert (request.ws_close_code, request.client_terminated, request.server_terminated) == (
        1000,
        True,
        True,
    )


def test_permessage_deflate_is_negotiated_through_the_handshaker() -> None:
    request, dispatcher = handshake(
        "/pyws3/echo3",
        **{"sec-websocket-extensions": "permessage-deflate; server_no_context_takeover"},
    )
    assert request.headers_out["sec-websocket-extensions"] == (
        "permessage-deflate; server_no_context_takeover"
    )
    assert request.ws_deflate
    thread = run_transfer(request, dispatcher)
    # RFC 7692 7.2.3.1: "Hello" compressed, RSV1 set on the first frame.
    hello = bytes((0xC1, 0x80 | 7)) + b"\x00\x00\x00\x00" + b"\xf2\x48\xcd\xc9\xc9\x07\x00"
    request.connection.wfile.write(hello)
    opcode, payload = request.connection.frame()
    assert opcode == 0x1 and payload == b"\xf2\x48\xcd\xc9\xc9\x07\x00"
    request.connection.wfile.write(masked_frame(0x8, struct.pack("!H", 1001)))
    request.connection.frame()
    thread.join(5)
    assert not thread.is_alive()


def test_refusals_raise_what_the_harness_catches() -> None:
    with pytest.raises(HandshakeException) as info:
        handshake("/handshake?status_none")
    assert info.value.status == 400
    with pytest.raises(HandshakeException) as info:
        handshake("/handshake?value_error")
    assert info.value.status == 403 and "ValueError" in str(info.value)
    with pytest.raises(AbortedByUserException):
        handshake("/handshake?abort")
    with pytest.raises(HandshakeException) as info:
        handshake("/pyws3/echo3", **{"sec-websocket-version": "12"})
    assert info.value.status == 400
    request = H2Request("/pyws3/echo3", {})
    request.method = "GET"
    with pytest.raises(HandshakeException):
        H2Handshaker(request, Dispatcher(str(HANDLERS))).do_handshake()


def test_transfer_data_maps_exceptions_and_passes_ordinary_ones_on() -> None:
    request, dispatcher = handshake("/exceptions")
    thread = run_transfer(request, dispatcher)
    request.connection.wfile.write(masked_frame(0x1, b"invalid_utf8"))
    assert request.connection.frame() == (0x8, struct.pack("!H", 1007))
    request.connection.wfile.write(masked_frame(0x8, struct.pack("!H", 1007)))
    thread.join(5)
    assert not thread.is_alive()

    request, dispatcher = handshake("/exceptions")
    errors: list[BaseException] = []

    def transfer() -> None:
        try:
            dispatcher.transfer_data(request)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=transfer, daemon=True)
    worker.start()
    request.connection.wfile.write(masked_frame(0x1, b"value_error"))
    worker.join(5)
    assert [type(e) for e in errors] == [ValueError]  # the harness drops the stream
    assert request.connection.written == b""  # and no Close frame was sent


def test_request_handler_class_serves_a_callers_socketserver() -> None:
    """pywebsocket3's WebSocketRequestHandler is a socketserver handler class: a
    harness's own server instantiates it per connection."""
    import socketserver

    from websockets.sync.client import connect

    from pywebsocket3 import standalone
    from pywebsocket3.request_handler import WebSocketRequestHandler

    options, _ = standalone._parse_args_and_config(["-w", str(HANDLERS), "-d", str(HANDLERS)])
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), WebSocketRequestHandler)
    server.daemon_threads = True
    server.websocket_server_options = options  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with connect(f"ws://127.0.0.1:{port}/pyws3/echo3") as ws:
            ws.send("through a caller's socketserver")
            assert ws.recv() == "through a caller's socketserver"
    finally:
        server.shutdown()
        server.server_close()


def test_websocket_server_keeps_the_socketserver_names() -> None:
    from pywebsocket3 import standalone, websocket_server

    options, _ = standalone._parse_args_and_config(
        ["-H", "127.0.0.1", "-p", "0", "-w", str(HANDLERS), "-q", "7"]
    )
    server = websocket_server.WebSocketServer(options)
    try:
        assert server.websocket_server_options is options and server.request_queue_size == 7
        assert server.allow_reuse_address and server.daemon_threads
        server.server_bind()
        server.server_activate()  # both done by the constructor: no error, no second bind
        assert server.fileno() == server._sockets[0][0].fileno()
        with socket.create_connection(("127.0.0.1", server.server_port)):
            accepted, address = server.get_request()
            accepted.close()
        assert address[0] == "127.0.0.1"
    finally:
        server.server_close()


@pytest.mark.parametrize("name", ["a b", "a,b", " chat", "chat\r\nX-Injected: 1", "chat\n", ""])
def test_validate_subprotocol_refuses_what_is_not_one_token(name: str) -> None:
    """RFC 6455 4.1: one token; a line break must never reach the 101 response."""
    from pywebsocket3.handshake.base import validate_subprotocol

    with pytest.raises(HandshakeException):
        validate_subprotocol(name)


def test_validate_subprotocol_takes_a_token() -> None:
    from pywebsocket3.handshake.base import validate_subprotocol

    validate_subprotocol("chat.v2")
