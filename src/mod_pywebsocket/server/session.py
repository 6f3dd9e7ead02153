"""One WebSocket session over a blocking byte transport: the threaded drivers' loop.

The decisions are the session layer's (``mod_pywebsocket.session``): routing
and the handshake outcome (``http1``, ``handshake``), the handler's life and
the close-code map (``lifecycle``). This module does the blocking I/O around
them: :func:`handle_upgrade` / :func:`run_websocket` write the outcome and run
the handler; :class:`Stream` (``request.ws_stream``) keeps the locks and the
reads and writes over the protocol core. The transport is a socket in the
standalone server and mod_python's connection in Apache; both offer
:class:`Transport`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from ..handlers.dispatch import Dispatcher, HandlerSuite
from ..handlers.request import Request
from ..options import ServerOptions
from ..protocol import constants as c
from ..protocol.errors import (
    AbortedByUserException,
    BadOperationException,
    ConnectionTerminatedException,
)
from ..protocol.events import Close, Event, Failure, Ping, Pong
from ..protocol.handshake import HttpRequest
from ..protocol.state import CLOSE_SENT, CLOSED, WebSocketCore
from ..session.handshake import Dialect, Drop, Reject, extra_handshake, negotiate
from ..session.http1 import Hybi00Upgrade, reject_bytes, route
from ..session.lifecycle import (
    BAD_PASSIVE_REPLY_CODE,
    NO_WAIT_CODES,
    PassiveClosing,
    failing_close_code,
    keepalive_tick,
    passive_close_reply,
    ping_hook,
    pong_hook,
    record_peer_close,
    transfer_data,
)
from ..session.log import printable
from .legacy import LegacyStreamMethods

__all__ = [
    "RawConnection",
    "SessionResult",
    "Stream",
    "Transport",
    "extra_handshake",
    "handle_upgrade",
    "log_access",
    "printable",
    "run_websocket",
    "transfer_data",
]

_logger = logging.getLogger("mod_pywebsocket.session")
_access_logger = logging.getLogger("mod_pywebsocket.access")

# Reads adapt between these sizes: a read that fills its buffer makes the next
# one 4x larger (bulk data takes few system calls), one that returns under a
# sixteenth of it makes the next 4x smaller. An idle connection therefore blocks
# in a small recv: the buffer a blocked recv holds is resident memory, 7 KiB
# per idle connection at 256 KiB against 512 bytes (measured with 2,000 idle).
READ_SIZE = 256 * 1024
MIN_READ_SIZE = 512


class Transport(Protocol):
    """A blocking byte stream."""

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes; b'' at end of stream. Raises TimeoutError, OSError."""

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """All of ``data``."""

    def sendv(self, chunks: Sequence[bytes]) -> None:
        """All of the chunks, in one system call where possible."""

    def set_timeout(self, timeout: float | None) -> None: ...

    def abort(self) -> None:
        """Cut the connection so that blocked reads and writes return."""

    def writable(self) -> bool:
        """True when a small write would not wait (the peer has room for it).

        Paths that must never block (keepalive, shutdown, abort) write only
        then; a transport that cannot tell answers False.
        """

    def shutdown_write(self) -> bool:
        """Send EOF (TCP FIN) and keep reading; False when the transport cannot.

        Apache closes the connection itself once the handler returns, so its
        transport answers False and the session skips draining.
        """


class RawConnection:
    """``request.connection``: unframed reads and writes on the transport."""

    def __init__(
        self,
        transport: Transport,
        remote_addr: tuple[str, int] | None,
        local_addr: tuple[str, int] | None,
    ) -> None:
        self.transport = transport
        self.remote_addr = remote_addr
        self.local_addr = local_addr
        self.bytes_in = 0
        self.bytes_out = 0

    def write(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.transport.send(data)

    def read(self, length: int) -> bytes:
        """Up to ``length`` bytes, as soon as some arrive; b'' at end of stream.

        What pywebsocket3's (an unbuffered socket file) and mod_python's
        ``read`` do: handlers that read a few raw bytes must not wait for more.
        """
        data = self.transport.recv(length)
        self.bytes_in += len(data)
        return data

    def read_exact(self, length: int) -> bytes:
        """Exactly ``length`` bytes, fewer only at end of stream."""
        chunks = []
        while length > 0:
            data = self.read(length)
            if not data:
                break
            chunks.append(data)
            length -= len(data)
        return b"".join(chunks)


@dataclass
class SessionResult:
    """What the access log reports for one connection."""

    status: int | None = None  # HTTP status of the handshake answer
    close_code: int | None = None  # the code we sent, or the peer's when it closed first
    error: str = ""


def log_access(
    peer: str,
    resource: str,
    result: SessionResult,
    started: float,
    connection: RawConnection | None,
) -> None:
    """One line per connection: peer, resource, HTTP status, close code, duration, bytes."""
    if not _access_logger.isEnabledFor(logging.INFO):
        return  # not even the arguments: this runs once per connection
    _access_logger.info(
        '%s "%s" %s %s %.3fs in=%d out=%d%s',
        peer,
        printable(resource),
        result.status if result.status is not None else "-",
        result.close_code if result.close_code is not None else "-",
        time.monotonic() - started,
        connection.bytes_in if connection else 0,
        connection.bytes_out if connection else 0,
        f" ({printable(result.error)})" if result.error else "",
    )


class StreamBase:
    """What the blocking :class:`Stream` and the asyncio engine's ``AsyncStream``
    share: the bookkeeping and the rules around the core, none of the I/O or
    the locking (one blocks, the other awaits). The host class provides the
    attributes below, ``_write`` (queue or send one frame's bytes, the write
    lock held), ``_cut`` and ``server_terminated``/``mark_client_terminated``.
    """

    if not TYPE_CHECKING:  # mypy would check the host's assignments against it
        __slots__ = ()  # the async stream is slotted: no __dict__ from here

    _request: Request
    _raw: RawConnection
    _core: WebSocketCore
    _events: list[Event]
    _event_index: int
    _last_opcode: int | None
    _failed: str | None  # why the connection was cut, once it was
    _close_request: tuple[int, str] | None  # see close_nowait
    _ping_sent_at: float | None
    close_code: int | None
    last_received: float

    if TYPE_CHECKING:

        @property
        def server_terminated(self) -> bool: ...

        def mark_client_terminated(self) -> None: ...

        def _write(self, data: bytes) -> None: ...

        def _cut(self, why: str) -> ConnectionTerminatedException: ...

    def get_last_received_opcode(self) -> int | None:
        return self._last_opcode

    def _terminated(self) -> ConnectionTerminatedException:
        return ConnectionTerminatedException(f"the connection was cut: {self._failed}")

    def _send_failed(self, exc: OSError) -> ConnectionTerminatedException:
        if isinstance(exc, TimeoutError):
            _logger.info("%s: %s; connection cut", printable(self._request.ws_resource), exc)
        return self._cut(f"send failed: {exc}")

    # --- reading ----------------------------------------------------------------

    def _receive_failed(self, exc: OSError) -> ConnectionTerminatedException:
        """What a read that failed (other than by its timeout) raises."""
        if self._failed is not None:
            return self._terminated()
        return ConnectionTerminatedException(f"receive failed: {exc}")

    def _end_of_stream(self) -> ConnectionTerminatedException:
        """What the end of the stream raises (the core is told first)."""
        self._core.receive_eof()
        if self._failed is not None:
            return self._terminated()
        return ConnectionTerminatedException(
            "the peer closed the connection without a closing handshake"
        )

    def _received(self, data: bytes) -> None:
        """Parse what a read brought: every frame of it in one call."""
        self._raw.bytes_in += len(data)
        self.last_received = time.monotonic()
        self._events = self._core.receive_data(data)
        self._event_index = 0

    def _parsed_event(self) -> Event | None:
        """The next event of the last read, if one is left."""
        index = self._event_index
        if index >= len(self._events):
            return None
        self._event_index = index + 1
        return self._events[index]

    def _peer_closed(self, event: Close) -> bool:
        """Take the peer's Close; True when ours is still to be sent in answer."""
        peer_code = record_peer_close(self._request, event)
        self.mark_client_terminated()
        if self.close_code is None:
            self.close_code = peer_code
        return not self.server_terminated

    def _failing(self, event: Failure) -> tuple[int, str]:
        """The Close that fails the connection after a protocol error (logged)."""
        code, reason = failing_close_code(event.close_code)
        _logger.info(
            "%s: failing the connection with %d: %s",
            printable(self._request.ws_resource),
            code,
            event.exc,
        )
        return code, reason

    # --- our Close --------------------------------------------------------------

    def _note_close_sent(self) -> None:
        """A Close left (the blocking stream tells a harness's own request)."""

    def _close_locked(self, make: Callable[[], bytes], code: int | None) -> bool:
        """Send our Close (the write lock held) unless one was sent or the connection cut.

        The check and the mark happen under the lock, before the write, so two
        writers never both send a Close, and a peer's prompt answer always finds
        ours marked as sent (no spurious "already sent" warnings).
        """
        if self.server_terminated or self._failed is not None:
            return False
        frame = make()  # the core's state moves to CLOSE_SENT
        self._note_close_sent()
        first = self.close_code is None
        if first:
            self.close_code = c.STATUS_NO_STATUS_RECEIVED if code is None else code
        try:
            self._write(frame)
        except ConnectionTerminatedException:
            if first:
                self.close_code = None  # it never left: the log says 1006
            raise
        return True

    def _flush_close_request(self) -> None:
        """Send the Close that close_nowait asked for (the write lock held)."""
        request, self._close_request = self._close_request, None
        if request is None:
            return
        try:
            self._close_locked(partial(self._core.send_close, *request), request[0])
        except ConnectionTerminatedException:
            pass  # the connection is cut; the handler's next call says so

    # --- keepalive --------------------------------------------------------------

    def keepalive(self, now: float, interval: float, timeout: float) -> bool:
        """One keepalive tick: ping a quiet peer; False once it missed the deadline.

        Any data read since the ping counts as an answer. Data counts only once
        the handler reads it, so keepalive suits handlers that receive. A tick
        never waits, so one keepalive thread (or task) serves every connection:
        a busy write lock (a send under way, bounded by the send timeout) skips
        the ping until a later tick; a socket with no room (the peer reads
        nothing) starts the deadline without one.
        """
        if self.server_terminated or self._failed is not None:
            return True
        tick = keepalive_tick(now, self.last_received, self._ping_sent_at, interval, timeout)
        self._ping_sent_at = tick.ping_sent_at
        if tick.send_ping and self._keepalive_ping():
            self._ping_sent_at = now
        return tick.alive

    def _keepalive_ping(self) -> bool:
        """Ping unless the write lock is busy (False then) or the socket has no room."""
        raise NotImplementedError


def message_payload(message: str | bytes, binary: bool) -> bytes:
    """``send_message``'s argument as the payload to frame."""
    if isinstance(message, str):
        if binary:
            raise BadOperationException("a binary message must be bytes, not str")
        return message.encode("utf-8")
    return bytes(message)


class Stream(StreamBase, LegacyStreamMethods):
    """``request.ws_stream``: messages over one connection (API.md section 4).

    One thread may receive while another sends: reads happen under one lock,
    writes under another; the protocol core keeps the two sides apart. A send
    that fails (the transport's send timeout included) may have cut a frame
    short, so it fails the connection: the transport is cut, and every later
    send or receive raises ConnectionTerminatedException. ``passive_closing``
    answers the peer's Close (the handler's ``web_socket_passive_closing_handshake``).
    pywebsocket3's frame-level private methods come from
    :class:`legacy.LegacyStreamMethods`.
    """

    def __init__(
        self,
        request: Request,
        connection: RawConnection,
        core: WebSocketCore,
        passive_closing: PassiveClosing | None,
        close_timeout: float | None,
    ) -> None:
        self._request = request
        self._raw = connection
        self._transport = connection.transport
        self._core = core
        self._passive_closing = passive_closing
        self._close_timeout = close_timeout
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._events: list[Event] = []
        self._event_index = 0
        self._read_size = MIN_READ_SIZE
        self._last_opcode: int | None = None
        self._failed: str | None = None  # why the connection was cut, once it was
        self._close_request: tuple[int, str] | None = None  # see close_nowait
        # The first Close of the closing handshake, ours or the peer's (the access line's).
        self.close_code: int | None = None
        # Keepalive: when data last arrived, and when our unanswered ping left.
        self.last_received = time.monotonic()
        self._ping_sent_at: float | None = None
        # client_terminated: the peer's Close was handed out (messages parsed
        # before it are still received), or the handler read it itself.
        self._close_delivered = False
        # Our Request's two flags are views of this stream; a harness's own
        # request object (pywebsocket3's Stream constructor) gets them written.
        self._mirror = not isinstance(request, Request)
        if self._mirror:
            request.client_terminated = False
            request.server_terminated = False
        else:
            request.attach_termination(self)

    # --- the closing-handshake state (request.client_terminated / server_terminated) ---

    @property
    def server_terminated(self) -> bool:
        """Our Close left: the core's state (or a harness's request says so)."""
        return self._core.close_sent or (self._mirror and bool(self._request.server_terminated))

    @property
    def client_terminated(self) -> bool:
        return self._close_delivered or (self._mirror and bool(self._request.client_terminated))

    def mark_server_terminated(self) -> None:
        """A Close left without the core (a handler's hand-made frame)."""
        self._core.mark_close_sent()
        self._note_close_sent()

    def mark_client_terminated(self) -> None:
        """The peer's Close was taken: by receive_message, or by the handler itself."""
        self._close_delivered = True
        self._core.mark_close_received()
        if self._mirror:
            self._request.client_terminated = True

    def _note_close_sent(self) -> None:
        if self._mirror:
            self._request.server_terminated = True

    # --- writing ----------------------------------------------------------------

    def _cut(self, why: str) -> ConnectionTerminatedException:
        """Fail the connection without a Close: cut the transport, so a thread
        blocked in a read or a send returns, and make later calls raise."""
        if self._failed is None:
            self._failed = why
        self._transport.abort()
        return self._terminated()

    def _write(self, data: bytes) -> None:
        """Write ``data`` (the write lock held); a failure fails the connection."""
        if data:
            self._raw.bytes_out += len(data)
            try:
                self._transport.send(data)
            except OSError as exc:
                raise self._send_failed(exc) from exc

    def send_message(self, message: str | bytes, end: bool = True, binary: bool = False) -> None:
        """Send a text (``str``) or binary (``bytes``, ``binary=True``) message or fragment."""
        payload = message_payload(message, binary)
        with self._write_lock:
            if self._failed is not None:
                raise self._terminated()
            core = self._core
            state = core.state
            if (
                state is CLOSE_SENT
                or state is CLOSED
                or (self._mirror and self._request.server_terminated)
            ):
                raise BadOperationException("cannot send a message after the Close frame")
            header, body = core.send_data(payload, binary, end)
            size = len(header) + len(body)
            self._raw.bytes_out += size
            try:
                if size < 16384:
                    self._transport.send(header + body)
                else:
                    self._transport.sendv((header, body))
            except OSError as exc:
                raise self._send_failed(exc) from exc
            if self._close_request is not None:
                self._flush_close_request()

    def send_ping(self, body: bytes | str = b"", binary: bool = False) -> None:
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._send_locked(partial(self._core.send_ping, payload))

    def _send_locked(self, make: Callable[[], bytes]) -> None:
        with self._write_lock:
            if self._failed is not None:
                raise self._terminated()
            self._write(make())

    def _pong(self, payload: bytes) -> None:
        """The automatic answer to a Ping; also after our Close, as pywebsocket3
        answers while it waits (RFC 6455 5.5.1 forbids only data frames then)."""
        with self._write_lock:
            if self._failed is not None:
                raise self._terminated()
            self._write(self._core.send_pong(payload))

    def close_nowait(self, code: int, reason: str) -> bool:
        """Start the closing handshake without waiting on anything; True once settled.

        False means "ask again later": the write lock is busy (its holder then
        sends this Close right after its frame, so messages handed over before
        stay in order before it) or the socket has no room (the peer is not
        reading). Shutdown calls this for every connection until its grace ends.
        """
        if self.server_terminated or self._failed is not None:
            return True
        self._close_request = (code, reason)
        if not self._write_lock.acquire(blocking=False):
            return False
        try:
            if not self._transport.writable():
                return False
            self._flush_close_request()
        finally:
            self._write_lock.release()
        return True

    # --- reading ----------------------------------------------------------------

    def _next_event(self) -> Event:
        """The next protocol event, reading from the transport as needed."""
        events = self._events
        while self._event_index >= len(events):
            try:
                data = self._transport.recv(self._read_size)
            except TimeoutError:
                if self._failed is not None:
                    raise self._terminated() from None
                raise
            except OSError as exc:
                raise self._receive_failed(exc) from exc
            if not data:
                raise self._end_of_stream()
            got = len(data)
            if got == self._read_size:
                self._read_size = min(got * 4, READ_SIZE)
            elif got < self._read_size >> 4:
                self._read_size = max(self._read_size >> 2, MIN_READ_SIZE)
            self._received(data)
            events = self._events
        event = events[self._event_index]
        self._event_index += 1
        return event

    def receive_message(self) -> str | bytes | None:
        """The next whole message; None once the peer's Close has arrived."""
        request = self._request
        with self._read_lock:
            if self._failed is not None:
                raise self._terminated()
            if self._close_delivered or (self._mirror and request.client_terminated):
                raise BadOperationException(
                    "receive_message after the peer's Close frame was received"
                )
            while True:
                event = self._next_event()
                kind = type(event)
                if kind is str:
                    self._last_opcode = c.OPCODE_TEXT
                    return event  # type: ignore[return-value]
                if kind is bytes:
                    self._last_opcode = c.OPCODE_BINARY
                    return event  # type: ignore[return-value]
                if kind is Ping:
                    self._on_ping(event)  # type: ignore[arg-type]
                elif kind is Pong:
                    self._on_pong(event)  # type: ignore[arg-type]
                elif kind is Close:
                    self._last_opcode = c.OPCODE_CLOSE
                    self._on_close(event)  # type: ignore[arg-type]
                    return None
                else:
                    assert isinstance(event, Failure)
                    self._on_failure(event)

    def _on_ping(self, event: Ping) -> None:
        """Answer a Ping (or hand it to the handler's hook); also after our Close,
        as pywebsocket3 does: RFC 6455 5.5.1 forbids only data frames then."""
        self._last_opcode = c.OPCODE_PING
        request = self._request
        hook = ping_hook(request)
        if hook is not None:
            hook(request, event.payload)
        else:
            self._pong(event.payload)

    def _on_pong(self, event: Pong) -> None:
        self._last_opcode = c.OPCODE_PONG
        request = self._request
        hook = pong_hook(request)
        if hook is not None:
            hook(request, event.payload)

    def _on_close(self, event: Close) -> None:
        if not self._peer_closed(event):
            return
        # AbortedByUserException propagates: the session drops TCP without a reply.
        code, reason = passive_close_reply(self._passive_closing, self._request)
        with self._write_lock:
            try:
                self._close_locked(partial(self._core.send_close, code, reason), code)
            except BadOperationException as exc:
                _logger.warning("passive closing handshake returned %r: %s", (code, reason), exc)
                self._close_locked(
                    partial(self._core.fail, BAD_PASSIVE_REPLY_CODE), BAD_PASSIVE_REPLY_CODE
                )

    def _on_failure(self, event: Failure) -> None:
        code, reason = self._failing(event)
        with self._write_lock:
            self._close_locked(partial(self._core.fail, code, reason), code)
        raise event.exc

    def close_connection(
        self,
        code: int | None = c.STATUS_NORMAL_CLOSURE,
        reason: str = "",
        wait_response: bool = True,
    ) -> None:
        """Start the closing handshake; wait (bounded) for the peer's Close unless told not to."""
        if self.server_terminated or self._failed is not None:
            return
        if code is None and reason:
            raise BadOperationException("a close reason needs a close code")
        # Another thread's send holds the lock at most the send timeout; past the
        # close timeout its peer is not reading, and the connection is cut instead.
        if not self._write_lock.acquire(
            timeout=-1 if self._close_timeout is None else self._close_timeout
        ):
            self._cut("close_connection: a send to a peer that does not read held the line")
            return
        try:
            sent = self._close_locked(partial(self._core.send_close, code, reason), code)
        finally:
            self._write_lock.release()
        # pywebsocket3 does not wait for the answer to 1001 and 1002: the peer is
        # going away or broken. The session still drains the socket afterwards.
        if code in NO_WAIT_CODES:
            return
        if sent and wait_response and not self.client_terminated:
            self._await_close()

    def _await_close(self) -> None:
        """Wait, within the close timeout, for the peer's answer to our Close.

        As pywebsocket3's ``close_connection``: Pings are answered and Pongs
        consumed meanwhile; a data message where the Close should be means
        the peer did not take the closing handshake, and ends the wait with
        ConnectionTerminatedException (the session then drops TCP at once).
        """
        deadline = None if self._close_timeout is None else time.monotonic() + self._close_timeout
        with self._read_lock:
            while not self.client_terminated:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._transport.set_timeout(left)
                try:
                    event = self._next_event()
                except (TimeoutError, ConnectionTerminatedException):
                    return  # no answer in time, or the peer is gone: nothing to wait for
                if isinstance(event, Close):
                    self._on_close(event)
                elif isinstance(event, Ping):
                    self._on_ping(event)
                elif isinstance(event, Pong):
                    self._on_pong(event)
                elif isinstance(event, Failure):
                    return
                else:
                    raise ConnectionTerminatedException(
                        "a data message came instead of the answer to our Close"
                    )

    def _keepalive_ping(self) -> bool:
        if not self._write_lock.acquire(blocking=False):
            return False
        try:
            if self._transport.writable() and not self.server_terminated:
                self._write(self._core.send_ping(b"keepalive"))
        finally:
            self._write_lock.release()
        return True

    def abort(self, code: int, reason: str) -> None:
        """Fail the connection at once, never waiting on anything.

        A Close with ``code`` and ``reason`` goes out only if the write lock is
        free and the socket has room; then the transport is cut, so a handler
        blocked in a read, or stuck in a send to a peer that does not read,
        returns at once, and its later calls raise ConnectionTerminatedException.
        Keepalive, shutdown and a broadcast dropping a stalled member rely on this.
        """
        if self._write_lock.acquire(blocking=False):
            try:
                if self._transport.writable():
                    self._close_locked(partial(self._core.fail, code, reason), code)
            except Exception:  # the connection may already be broken
                pass
            finally:
                self._write_lock.release()
        self._cut(f"aborted with {code}: {reason}")

    def receive_bytes(self, length: int) -> bytes:
        """Raw bytes from the connection (pywebsocket3's stream API)."""
        data = self._raw.read_exact(length)
        if len(data) < length:
            raise ConnectionTerminatedException("the peer closed the connection")
        return data

    def _drain_after_close(self, timeout: float | None) -> None:
        """Send EOF and read until the peer's EOF, so closing the socket sends no RST."""
        try:
            if not self._transport.shutdown_write():
                return
            self._transport.set_timeout(timeout if timeout is not None else 5.0)
            deadline = time.monotonic() + (timeout if timeout is not None else 5.0)
            while time.monotonic() < deadline and self._transport.recv(65536):
                pass
        except OSError:
            pass


def run_websocket(
    request: Request,
    connection: RawConnection,
    suite: HandlerSuite,
    dialect: Dialect,
    options: ServerOptions,
    on_open: Callable[[Stream], None] | None = None,
) -> SessionResult:
    """Run one handler over a routed handshake request: the loop over the session layer.

    :func:`handshake.negotiate` runs the extra handshake and gives the
    outcome; this writes it, runs :func:`lifecycle.transfer_data` over a
    :class:`Stream`, and drains. ``on_open`` lets the driver track the stream
    (graceful shutdown sends 1001 through it).
    """
    result = SessionResult()
    # The handshake timeout bounds reading the request head, not the handler's
    # hook: suites stall in it on purpose to test the browser's own timeout.
    connection.transport.set_timeout(None)
    outcome = negotiate(suite, request, dialect)
    if isinstance(outcome, Drop):
        result.error = outcome.reason
        return result
    if isinstance(outcome, Reject):
        return send_reject(connection, result, outcome)
    connection.write(outcome.response)
    result.status = 101
    _logger.debug(
        "%s: accepted (version %s, subprotocol %s, extensions %s)",
        printable(request.ws_resource),
        request.ws_version,
        printable(repr(request.ws_protocol)),
        printable(repr(getattr(request, "ws_extensions", None))),
    )
    stream = Stream(
        request, connection, outcome.core, suite.passive_closing_handshake, options.close_timeout
    )
    request.ws_stream = stream
    if on_open is not None:
        on_open(stream)
    connection.transport.set_timeout(options.idle_timeout)
    if not run_transfer_data(suite, request, stream, result):
        return result
    stream._drain_after_close(options.close_timeout)
    # Messages read but never received (a handler cut mid-stream leaves up to a
    # read's worth) go now: the request and its stream refer to each other, and
    # the collector reaches such old cycles rarely.
    stream._events = []
    return result


def run_transfer_data(
    suite: HandlerSuite,
    request: Request,
    stream: Stream,
    result: SessionResult,
    cut: Callable[[], None] | None = None,
    dropping: str = "dropping the connection",
) -> bool:
    """``web_socket_transfer_data`` over ``stream``, and how it ended in ``result``
    (the error, the close code); False when the handler aborted (nothing more
    is sent). An exception the handler raised is logged with its traceback and
    ends the connection with no Close frame: ``cut`` (when given) cuts it at
    once, on an abort too; ``dropping`` names that in the log line."""
    try:
        transfer_data(suite, request)
    except AbortedByUserException:
        result.error = "aborted by handler"
        result.close_code = stream.close_code or c.STATUS_ABNORMAL_CLOSURE
        if cut is not None:
            cut()
        return False
    except (OSError, ConnectionTerminatedException) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        _logger.error(
            "%s: web_socket_transfer_data raised; %s without a Close frame",
            printable(request.ws_resource),
            dropping,
            exc_info=exc,
        )
        if cut is not None:
            cut()
    # The first Close of the handshake, ours or the peer's; 1006 when there was none.
    result.close_code = stream.close_code or c.STATUS_ABNORMAL_CLOSURE
    return True


def send_reject(raw: RawConnection, result: SessionResult, reject: Reject) -> SessionResult:
    """Write a refusal (HTTP/1.1) and record it for the access line."""
    result.status, result.error = reject.status, reject.message
    raw.write(reject_bytes(reject))
    return result


def handle_upgrade(
    http: HttpRequest,
    raw: RawConnection,
    dispatcher: Dispatcher,
    options: ServerOptions,
    *,
    secure: bool = False,
    peer_certificate: object = None,
    on_open: Callable[[Stream], None] | None = None,
    decline_unknown: bool = False,
) -> SessionResult | None:
    """Serve one WebSocket upgrade request, from the request head to the closed session.

    :func:`http1.route` finds the handler or the refusal; with
    ``decline_unknown`` (Apache) a resource with no handler returns None so
    the server can serve the request itself. HyBi 00's 8-byte key is read here.
    """
    _logger.debug("handshake: %s", printable(f"{http.method} {http.target} {http.version}"))
    routed = route(
        http,
        raw,
        dispatcher,
        options,
        secure=secure,
        peer_certificate=peer_certificate,
        decline_unknown=decline_unknown,
    )
    if isinstance(routed, Hybi00Upgrade):
        routed = routed.complete(raw.read_exact(routed.key3_length))
    if routed is None:
        return None
    if isinstance(routed, Reject):
        _logger.info("handshake refused (%d): %s", routed.status, printable(routed.message))
        return send_reject(raw, SessionResult(), routed)
    return run_websocket(
        routed.request, raw, routed.suite, routed.dialect, options, on_open=on_open
    )
