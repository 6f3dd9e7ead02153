"""A second driver over the session layer: a scripted byte sequence in, bytes out.

No sockets, no threads, no timeouts: :func:`serve` feeds the script's chunks to
the session layer's request-head reader, routes the request, negotiates, and
runs the real handler with a ``ws_stream`` of its own (:class:`ScriptedStream`)
over the protocol core. What it calls is what any driver calls; what it writes
itself is only the I/O (here: a list) and the blocking message loop.
"""

from __future__ import annotations

from collections.abc import Iterator

from mod_pywebsocket.handlers.dispatch import Dispatcher
from mod_pywebsocket.handlers.request import Request
from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.protocol import constants as c
from mod_pywebsocket.protocol.errors import AbortedByUserException, ConnectionTerminatedException
from mod_pywebsocket.protocol.events import Close, Event, Failure, Ping, Pong
from mod_pywebsocket.protocol.handshake import HttpRequest
from mod_pywebsocket.protocol.state import WebSocketCore
from mod_pywebsocket.session import handshake, http1, lifecycle


class ScriptedConnection:
    """``request.connection``: raw writes go to the output, raw reads come from the script."""

    def __init__(self, out: list[bytes], script: Iterator[bytes]) -> None:
        self.out = out
        self.script = script
        self.remote_addr = ("192.0.2.1", 50000)
        self.local_addr = ("192.0.2.2", 80)

    def write(self, data: bytes) -> None:
        self.out.append(bytes(data))

    def read(self, length: int) -> bytes:
        return next(self.script, b"")[:length]


class ScriptedStream:
    """``request.ws_stream`` over a core: the policies are the session layer's."""

    def __init__(
        self,
        request: Request,
        core: WebSocketCore,
        connection: ScriptedConnection,
        passive: lifecycle.PassiveClosing | None,
    ) -> None:
        self._request = request
        self._core = core
        self._conn = connection
        self._passive = passive
        self._events: list[Event] = []
        self._close_delivered = False
        self._last_opcode: int | None = None
        request.attach_termination(self)

    # Termination (the request's client_terminated / server_terminated)
    @property
    def client_terminated(self) -> bool:
        return self._close_delivered

    @property
    def server_terminated(self) -> bool:
        return self._core.close_sent

    def mark_client_terminated(self) -> None:
        self._close_delivered = True
        self._core.mark_close_received()

    def mark_server_terminated(self) -> None:
        self._core.mark_close_sent()

    def _next(self) -> Event:
        while not self._events:
            data = next(self._conn.script, None)
            if data is None:
                self._core.receive_eof()
                raise ConnectionTerminatedException("end of the script")
            self._events = self._core.receive_data(data)
        return self._events.pop(0)

    def receive_message(self) -> str | bytes | None:
        while True:
            event = self._next()
            if isinstance(event, (str, bytes)):
                self._last_opcode = c.OPCODE_TEXT if isinstance(event, str) else c.OPCODE_BINARY
                return event
            self._control(event)
            if isinstance(event, Close):
                return None

    def _control(self, event: Ping | Pong | Close | Failure) -> None:
        request = self._request
        if isinstance(event, Ping):
            hook = lifecycle.ping_hook(request)
            if hook is not None:
                hook(request, event.payload)
            else:
                self._conn.write(self._core.send_pong(event.payload))
        elif isinstance(event, Pong):
            hook = lifecycle.pong_hook(request)
            if hook is not None:
                hook(request, event.payload)
        elif isinstance(event, Close):
            lifecycle.record_peer_close(request, event)
            self.mark_client_terminated()
            if not self._core.close_sent:
                code, reason = lifecycle.passive_close_reply(self._passive, request)
                self._conn.write(self._core.send_close(code, reason))
        else:
            code, reason = lifecycle.failing_close_code(event.close_code)
            self._conn.write(self._core.fail(code, reason))
            raise event.exc

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None:
        payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        header, body = self._core.send_data(payload, binary, end)
        self._conn.write(header + body)

    def close_connection(
        self, code: int | None = 1000, reason: str = "", wait_response: bool = True
    ) -> None:
        if self._core.close_sent:
            return
        self._conn.write(self._core.send_close(code, reason))
        if code in lifecycle.NO_WAIT_CODES or not wait_response:
            return
        while not self._close_delivered:
            try:
                event = self._next()
            except ConnectionTerminatedException:
                return
            if isinstance(event, (str, bytes)):
                raise ConnectionTerminatedException("a data message instead of the Close")
            if isinstance(event, Failure):
                return
            self._control(event)

    def send_ping(self, body: bytes | str = b"", binary: bool = False) -> None:
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._conn.write(self._core.send_ping(payload))

    def get_last_received_opcode(self) -> int | None:
        return self._last_opcode

    def receive_bytes(self, length: int) -> bytes:
        return self._conn.read(length)


def serve(script: list[bytes], dispatcher: Dispatcher, options: ServerOptions) -> bytes:
    """Run one connection over ``script``; everything the server wrote, in order."""
    out: list[bytes] = []
    chunks = iter(script)
    reader = http1.RequestHeadReader.for_options(options)
    head: object = None
    for chunk in chunks:
        head = reader.feed(chunk)
        if head is not None:
            break
    if head is None:
        return b""
    if isinstance(head, handshake.Reject):
        return http1.reject_bytes(head)
    assert isinstance(head, HttpRequest)

    def rest() -> Iterator[bytes]:
        if reader.rest:
            yield reader.rest
        yield from chunks

    connection = ScriptedConnection(out, rest())
    routed = http1.route(head, connection, dispatcher, options)
    if isinstance(routed, http1.Hybi00Upgrade):
        routed = routed.complete(connection.read(routed.key3_length))
    assert routed is not None
    if isinstance(routed, handshake.Reject):
        return http1.reject_bytes(routed)
    outcome = handshake.negotiate(routed.suite, routed.request, routed.dialect)
    if isinstance(outcome, handshake.Reject):
        out.append(http1.reject_bytes(outcome))
    elif isinstance(outcome, handshake.Accept):
        out.append(outcome.response)
        request = routed.request
        request.ws_stream = ScriptedStream(
            request, outcome.core, connection, routed.suite.passive_closing_handshake
        )
        try:
            lifecycle.transfer_data(routed.suite, request)
        except AbortedByUserException:
            pass
    return b"".join(out)
