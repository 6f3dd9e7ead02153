"""WebSockets over HTTP/2 (RFC 8441): the blocking h2 driver, one thread per stream.

One thread (the connection's, from the threaded server) reads the socket and
feeds ``h2``'s state machine, one writer thread sends what ``h2`` queues, and
each stream gets its own thread. An extended
CONNECT with ``:protocol websocket`` goes through the same session functions
as an HTTP/1.1 Upgrade (``session.handshake``: the offer, the handler's extra
handshake, :func:`negotiate`) and then runs over the same blocking
:class:`session.Stream`, whose :class:`Transport` here is the stream
(:class:`StreamTransport`): reads take the stream's DATA, writes become DATA
within HTTP/2 flow control, so a stream whose peer does not read waits for
its WINDOW_UPDATE without holding up the reader or the other streams.
A GET or HEAD serves the document root, as on HTTP/1.1.

Needs the optional ``h2`` package (``pip install 'mod_pywebsocket[http2]'``).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Protocol

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from ..handlers.dispatch import Dispatcher, HandlerSuite
from ..handlers.request import Request
from ..options import ServerOptions
from ..protocol import constants as c
from ..protocol.errors import HandshakeException
from ..protocol.handshake import Headers
from ..session.handshake import (
    Accept,
    Dialect,
    Drop,
    Reject,
    apply_offer,
    check_subprotocol,
    negotiate,
    negotiate_extensions,
    new_core,
    read_client_offer,
    reject_for,
)
from .session import (
    RawConnection,
    SessionResult,
    Stream,
    Transport,
    log_access,
    run_transfer_data,
)
from .static import CHUNK_SIZE, resolve_path

_logger = logging.getLogger("mod_pywebsocket.server")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ALPN_PROTOCOLS = ["h2", "http/1.1"]
READ_SIZE = 64 * 1024
# Each stream buffers at most its window of unread DATA (SETTINGS_INITIAL_WINDOW_SIZE);
# the connection's window is given back as soon as DATA arrives, so one stream whose
# handler does not read never stops the others' DATA.
STREAM_WINDOW = 256 * 1024
CONNECTION_WINDOW = 16 * 1024 * 1024
MAX_CONCURRENT_STREAMS = 256
# A stream's send waits while this much is queued for the connection's writer.
WRITE_HIGH_WATER = 256 * 1024
# The reader stops reading while this much is queued: a peer that sends frames h2
# answers (PING, SETTINGS) and reads nothing is then held by TCP's flow control,
# not by an answer buffer that grows (a "ping flood"), until the send timeout.
READ_PAUSE = 4 * WRITE_HIGH_WATER
# How long the end of a connection waits for its last frames (GOAWAY) to go.
LAST_WRITE_WAIT = 1.0
# A cleartext preface that arrives in pieces is peeked at again this often.
PREFACE_POLL = 0.005

Address = tuple[str, int] | tuple[str, int, int, int]
HeaderList = list[tuple[bytes, bytes]]


def configure_alpn(context: ssl.SSLContext) -> None:
    """Offer h2 and http/1.1 on the TLS port (RFC 7301)."""
    context.set_alpn_protocols(ALPN_PROTOCOLS)


def wants_http2(sock: socket.socket, timeout: float | None) -> bool:
    """Whether the connection speaks HTTP/2: ALPN chose h2 (TLS), or the first bytes
    are the client preface (cleartext prior knowledge). Peeks; consumes nothing."""
    if isinstance(sock, ssl.SSLSocket):
        return sock.selected_alpn_protocol() == "h2"
    deadline = None if timeout is None else time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(len(PREFACE), socket.MSG_PEEK)
            if not data or not PREFACE.startswith(data):
                return False
            if len(data) == len(PREFACE):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(PREFACE_POLL)  # a preface split over packets: wait for the rest
    except OSError:  # the HTTP/1.1 path reads again and reports it
        return False


def _status_body(status: int, message: str) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"{status} {phrase}\n{message}\n".encode("utf-8", "replace")


class StreamTransport:
    """One HTTP/2 stream as a session :class:`Transport`.

    ``recv`` blocks on the stream's DATA (b'' once the peer ended its side or
    the stream was aborted; ConnectionResetError after the peer's RST_STREAM),
    and gives the window back as the handler reads. ``send`` writes DATA within
    the stream's and the connection's flow-control windows, waiting for a
    WINDOW_UPDATE at most the send timeout. ``shutdown_write`` is END_STREAM,
    ``abort`` RST_STREAM(CANCEL). Bytes written before the response headers
    (a handler's ``request.connection.write`` in its extra handshake) are held
    and follow the 200; a refused or dropped stream discards them.
    """

    def __init__(self, session: H2Session, stream_id: int) -> None:
        self._session = session
        self.stream_id = stream_id
        self.buffer = bytearray()
        self.remote_ended = False
        self.reset_code: int | None = None  # the peer's RST_STREAM error code
        self.aborted = False
        self.local_ended = False
        self.responded = False
        self._held: list[bytes] = []
        self._timeout: float | None = None
        self.ws_stream: Stream | None = None

    # --- Transport ---------------------------------------------------------------------

    def recv(self, size: int) -> bytes:
        session = self._session
        with session.cond:
            deadline = None if self._timeout is None else time.monotonic() + self._timeout
            while not self.buffer:
                if self.reset_code is not None:
                    raise ConnectionResetError(
                        f"the peer reset the stream (error code {self.reset_code})"
                    )
                if self.aborted or self.remote_ended or session.dead:
                    return b""
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("read timed out")
                session.cond.wait(left)
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            session.open_stream_window(self.stream_id, len(data))
        session.flush()
        return data

    def send(self, data: bytes | bytearray | memoryview) -> None:
        if not self.responded:
            self._held.append(bytes(data))
            return
        session = self._session
        view = memoryview(data).cast("B")
        timeout = session.options.send_timeout
        while view:
            with session.cond:
                since = time.monotonic()
                while True:
                    self._check_open()
                    window = session.send_window(self.stream_id)
                    if window > 0 and session.backlog < WRITE_HIGH_WATER:
                        break
                    left = None if timeout is None else since + timeout - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(
                            f"send made no progress for {timeout:g}s "
                            + (
                                "(the peer's HTTP/2 flow-control window stayed shut)"
                                if window <= 0
                                else "(the connection's socket took nothing)"
                            )
                        )
                    session.cond.wait(left)
                count = min(len(view), window)
                session.send_data(self.stream_id, view[:count])
            view = view[count:]
            session.flush()

    def sendv(self, chunks: Sequence[bytes]) -> None:
        self.send(b"".join(chunks))

    def set_timeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def writable(self) -> bool:
        session = self._session
        with session.cond:
            if (
                not self.responded
                or self.local_ended
                or self.aborted
                or (self.reset_code is not None or session.dead)
            ):
                return False
            try:
                if session.send_window(self.stream_id) <= 0:
                    return False
            except OSError:
                return False
        return session.socket_writable()

    def shutdown_write(self) -> bool:
        session = self._session
        with session.cond:
            if self.local_ended or self.aborted or self.reset_code is not None or session.dead:
                return False
            self.local_ended = True
            if not session.end_stream(self.stream_id):
                return False
        session.flush()
        return True

    def abort(self) -> None:
        """RST_STREAM(CANCEL), never waiting: the frame goes now if the socket has
        room, else with the connection's next write."""
        session = self._session
        with session.cond:
            if self.aborted:
                return
            self.aborted = True
            if self.reset_code is None:
                session.reset_stream(self.stream_id, ErrorCodes.CANCEL)
            session.cond.notify_all()
        session.flush()

    # --- the response ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.reset_code is not None:
            raise ConnectionResetError(f"the peer reset the stream (error code {self.reset_code})")
        if self.aborted or self.local_ended or self._session.dead:
            raise BrokenPipeError("the stream is closed")

    def respond(
        self, status: int, headers: Sequence[tuple[str, str]] = (), end_stream: bool = False
    ) -> None:
        """Send the response headers; bytes held before them follow as DATA."""
        fields = [(b":status", str(status).encode("ascii"))]
        fields += [(name.lower().encode("utf-8"), value.encode("utf-8")) for name, value in headers]
        session = self._session
        with session.cond:
            self._check_open()
            session.send_headers(self.stream_id, fields, end_stream)
            self.responded = True
            self.local_ended = end_stream
        session.flush()
        held, self._held = self._held, []
        for data in held:
            self.send(data)

    def refuse(
        self,
        status: int,
        message: str,
        headers: Sequence[tuple[str, str]] = (),
        head_only: bool = False,
    ) -> None:
        """An error response with a short text body, as HTTP/1.1's error_response."""
        self._held = []
        body = _status_body(status, message)
        self.respond(
            status,
            [
                ("content-type", "text/plain; charset=utf-8"),
                ("content-length", str(len(body))),
                *headers,
            ],
        )
        if not head_only:
            self.send(body)
        self.shutdown_write()


class StreamSlots(Protocol):
    """The server's connection limit, which every stream counts against (each has
    its handler thread): ``take`` is False when the limit is reached."""

    def take(self) -> bool: ...

    def give(self) -> None: ...


class H2Session:
    """One HTTP/2 connection: the reader loop and the streams' bookkeeping.

    ``cond`` guards ``h2``'s state machine and every stream's state. One writer
    thread per connection sends what ``h2`` has queued: the reader and the
    streams queue frames under ``cond`` and wake it (:meth:`flush`), so one
    socket write carries the frames of many streams and no stream thread waits
    for the socket, only for its window or, past ``WRITE_HIGH_WATER`` queued,
    for the writer. The threaded server tracks the session like a WebSocket stream:
    :meth:`close_nowait` (graceful shutdown: Close on every WebSocket, then
    GOAWAY), :meth:`keepalive`, :meth:`abort`.
    """

    def __init__(
        self,
        sock: socket.socket,
        transport: Transport,
        addr: Address,
        dispatcher: Dispatcher,
        options: ServerOptions,
        *,
        secure: bool,
        peer_certificate: object = None,
        slots: StreamSlots | None = None,
    ) -> None:
        self._sock = sock
        self._slots = slots
        self._transport = transport
        self._remote = (str(addr[0]), int(addr[1]))
        local = sock.getsockname()
        self._local = (str(local[0]), int(local[1]))
        self.dispatcher = dispatcher
        self.options = options
        self.secure = secure
        self._peer_certificate = peer_certificate
        self.cond = threading.Condition(threading.Lock())
        self._wanted = threading.Event()  # wakes the writer
        self._outbound: list[bytes] = []  # h2's frames taken for the writer (``cond``)
        self._outbound_size = 0
        self._in_flight = 0  # bytes in the writer's send under way (``cond``)
        self._idle_count = 0  # times the writer found nothing to send (``cond``)
        config = h2.config.H2Configuration(
            client_side=False, header_encoding=None, validate_outbound_headers=False
        )
        self._conn = h2.connection.H2Connection(config=config)
        self._conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: options.max_header_bytes,
            },
        )
        # The settings above are in force at once (not changes awaiting an ACK), so the
        # HPACK decoder is told the header limit here.
        self._conn.decoder.max_header_list_size = options.max_header_bytes
        self._streams: dict[int, StreamTransport] = {}
        self._threads: list[threading.Thread] = []
        self.dead = False
        self._goaway_sent = False
        self._goaway = b""  # our GOAWAY, queued beside h2's bytes (see close_nowait)
        self.stream_count = 0

    # --- h2 calls (``cond`` held) -------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Bytes queued for the writer or in its send: every frame taken from h2,
        DATA and what h2 sends in answer to the peer (PING and SETTINGS ACKs,
        WINDOW_UPDATEs) alike."""
        return self._outbound_size + self._in_flight

    def _take_output(self) -> None:
        """Move what h2 has queued to the writer's list, where the backlog counts it."""
        data = self._conn.data_to_send()
        if data:
            self._outbound.append(data)
            self._outbound_size += len(data)

    def open_stream_window(self, stream_id: int, size: int) -> None:
        if size:
            try:
                self._conn.increment_flow_control_window(size, stream_id=stream_id)
            except h2.exceptions.H2Error:
                pass  # the stream is closed: nothing to give back

    def send_window(self, stream_id: int) -> int:
        try:
            return min(
                self._conn.local_flow_control_window(stream_id),
                self._conn.max_outbound_frame_size * 4,
            )
        except h2.exceptions.H2Error as exc:
            raise BrokenPipeError(f"the stream is closed: {exc}") from None

    def send_data(self, stream_id: int, data: memoryview) -> None:
        frame = self._conn.max_outbound_frame_size
        try:
            for start in range(0, len(data), frame):
                self._conn.send_data(stream_id, bytes(data[start : start + frame]))
        except h2.exceptions.H2Error as exc:
            raise BrokenPipeError(f"the stream is closed: {exc}") from None
        finally:
            self._take_output()

    def send_headers(self, stream_id: int, fields: HeaderList, end_stream: bool) -> None:
        try:
            self._conn.send_headers(stream_id, fields, end_stream=end_stream)
        except h2.exceptions.H2Error as exc:
            raise BrokenPipeError(f"cannot send the response headers: {exc}") from None

    def end_stream(self, stream_id: int) -> bool:
        try:
            self._conn.end_stream(stream_id)
        except h2.exceptions.H2Error:
            return False
        return True

    def reset_stream(self, stream_id: int, code: ErrorCodes) -> None:
        try:
            self._conn.reset_stream(stream_id, code)
        except h2.exceptions.H2Error:
            pass  # already closed

    # --- the socket ---------------------------------------------------------------------

    def flush(self) -> None:
        """Wake the writer for what ``h2`` has queued; never waits."""
        self._wanted.set()

    def flush_and_wait(self, timeout: float) -> None:
        """Wake the writer and wait (at most ``timeout``) until what was queued
        before the call has gone: a GOAWAY before the connection closes."""
        deadline = time.monotonic() + timeout
        with self.cond:
            self._wanted.set()
            seen = self._idle_count
            while self._idle_count == seen and not self.dead:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)

    def _write_loop(self) -> None:
        """The writer thread: send what ``h2`` has queued until the connection dies."""
        transport = self._transport
        while not self.dead:
            self._wanted.wait()
            self._wanted.clear()
            while True:
                with self.cond:
                    if self.dead:
                        return
                    self._take_output()
                    self._outbound.append(self._goaway)
                    data = b"".join(self._outbound)
                    self._outbound = []
                    self._outbound_size = 0
                    self._goaway = b""
                    if not data:
                        self._idle_count += 1
                        self.cond.notify_all()
                        break
                    # What the streams queue while this send runs is counted beside it.
                    self._in_flight = len(data)
                try:
                    transport.send(data)
                except OSError:
                    self._fail()
                    return
                with self.cond:
                    self._in_flight = 0
                    self.cond.notify_all()

    def socket_writable(self) -> bool:
        return self.backlog < WRITE_HIGH_WATER and self._transport.writable()

    def _fail(self) -> None:
        """The connection is broken: every stream's blocked call returns."""
        with self.cond:
            self.dead = True
            self.cond.notify_all()
        self._wanted.set()
        self._transport.abort()

    # --- the reader loop ----------------------------------------------------------------

    def serve(self) -> None:
        """Read the connection until it ends, then wait for its streams' threads."""
        writer = threading.Thread(target=self._write_loop, name="ws-h2-writer", daemon=True)
        writer.start()
        try:
            with self.cond:
                self._conn.initiate_connection()
                self._conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)
            self.flush()
            self._transport.set_timeout(None)
            broken = False
            while not self.dead and not broken:
                self._wait_for_room()
                data = self._transport.recv(READ_SIZE)
                if not data:
                    break
                with self.cond:
                    try:
                        events = self._conn.receive_data(data)
                    except h2.exceptions.ProtocolError as exc:
                        # A connection error (RFC 9113 5.4.1): GOAWAY with its code, then close.
                        _logger.info("HTTP/2 protocol error from %s:%d: %s", *self._remote, exc)
                        self._conn.close_connection(exc.error_code)
                        events = []
                        broken = True
                    for event in events:
                        self._on_event(event)
                    self._take_output()
                    self.cond.notify_all()
                if broken:  # a GOAWAY must go before the close
                    self.flush_and_wait(LAST_WRITE_WAIT)
                else:
                    self.flush()
        except OSError:
            pass
        finally:
            self._fail()
            for thread in list(self._threads):
                thread.join(self.options.close_timeout or 5.0)
            writer.join(LAST_WRITE_WAIT)

    def _wait_for_room(self) -> None:
        """Read no more while READ_PAUSE bytes wait to be sent (see READ_PAUSE)."""
        with self.cond:
            while self.backlog >= READ_PAUSE and not self.dead:
                self.cond.wait()

    def _on_event(self, event: h2.events.Event) -> None:
        """One event from the peer (``cond`` held)."""
        if isinstance(event, h2.events.RequestReceived):
            assert event.stream_id is not None and event.headers is not None
            if self._goaway_sent:  # RFC 9113 6.8: a stream after our GOAWAY is not served
                self.reset_stream(event.stream_id, ErrorCodes.REFUSED_STREAM)
                return
            if self._slots is not None and not self._slots.take():
                self._refuse_full(event.stream_id, event.stream_ended is not None)
                return
            channel = StreamTransport(self, event.stream_id)
            channel.remote_ended = event.stream_ended is not None
            self._streams[event.stream_id] = channel
            self.stream_count += 1
            headers = [(bytes(n), bytes(v)) for n, v in event.headers]
            thread = threading.Thread(
                target=self._serve_stream, args=(channel, headers), name="ws-h2-stream", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()
        elif isinstance(event, h2.events.DataReceived):
            assert event.stream_id is not None and event.data is not None
            size = event.flow_controlled_length or 0
            if size:  # the connection's window comes back at once; the stream's as read
                self._conn.increment_flow_control_window(size)
            known = self._streams.get(event.stream_id)
            if known is None or known.aborted:
                self.open_stream_window(event.stream_id, size)
                return
            known.buffer += event.data
            self.open_stream_window(event.stream_id, size - len(event.data))  # padding
        elif isinstance(event, h2.events.StreamEnded):
            known = self._streams.get(event.stream_id or 0)
            if known is not None:
                known.remote_ended = True
        elif isinstance(event, h2.events.StreamReset):
            known = self._streams.get(event.stream_id or 0)
            if known is not None:
                known.reset_code = int(event.error_code or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            _logger.debug("GOAWAY from %s:%d (%s)", *self._remote, event.error_code)

    def _refuse_full(self, stream_id: int, remote_ended: bool) -> None:
        """503 for a stream past the connection limit, answered here: no thread for it."""
        _logger.warning(
            "connection limit (%d) reached; answering 503 to stream %d of %s:%d",
            self.options.max_connections,
            stream_id,
            *self._remote,
        )
        body = _status_body(503, "too many connections")
        fields = [
            (b":status", b"503"),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        try:
            self._conn.send_headers(stream_id, fields)
            self._conn.send_data(stream_id, body, end_stream=True)
            if not remote_ended:  # RFC 9113 8.1: the response is complete
                self._conn.reset_stream(stream_id, ErrorCodes.NO_ERROR)
        except h2.exceptions.H2Error:
            pass  # the body is larger than the window: the client gets the status only

    # --- one stream ---------------------------------------------------------------------

    def _serve_stream(self, channel: StreamTransport, headers: HeaderList) -> None:
        started = time.monotonic()
        raw = RawConnection(channel, self._remote, self._local)
        result = SessionResult()
        pseudo: dict[str, str] = {}
        fields: list[tuple[str, str]] = []
        for name, value in headers:
            text = name.decode("latin-1")
            if text.startswith(":"):
                pseudo[text] = value.decode("latin-1")
            else:
                fields.append((text, value.decode("latin-1")))
        resource = pseudo.get(":path", "-")
        try:
            method = pseudo.get(":method", "")
            if len(fields) > self.options.max_header_count:  # as HTTP/1.1's head reader
                result.status, result.error = 431, "too many request headers"
                channel.refuse(431, result.error)
            elif method == "CONNECT":
                result = self._websocket(channel, raw, pseudo, Headers(fields))
            elif method in ("GET", "HEAD"):
                result.status = self._static(channel, raw, method, resource)
            else:
                result.status, result.error = 405, f"{method} is not supported"
                channel.refuse(405, result.error, [("allow", "GET, HEAD, CONNECT")])
        except OSError as exc:
            result.error = result.error or f"{type(exc).__name__}: {exc}"
        except Exception:
            _logger.exception(
                "unexpected error on HTTP/2 stream %d from %s:%d", channel.stream_id, *self._remote
            )
            result.error = "internal error"
            channel.abort()
        finally:
            self._finish(channel)
            log_access(f"{self._remote[0]}:{self._remote[1]}", resource, result, started, raw)
            if self._slots is not None:
                self._slots.give()

    def _finish(self, channel: StreamTransport) -> None:
        """Close what is left of the stream: END_STREAM, or a reset when the peer's
        side is still open (RFC 9113 8.1: NO_ERROR, the response is complete)."""
        with self.cond:
            self._streams.pop(channel.stream_id, None)
            if not (channel.aborted or channel.reset_code is not None or self.dead):
                if not channel.local_ended:
                    channel.local_ended = True
                    if channel.responded:
                        self.end_stream(channel.stream_id)
                    else:
                        self.reset_stream(channel.stream_id, ErrorCodes.CANCEL)
                if not channel.remote_ended:
                    self.reset_stream(channel.stream_id, ErrorCodes.NO_ERROR)
            channel.buffer = bytearray()
            channel.ws_stream = None
            last = self._goaway_sent and not self._streams
        if last:  # shutting down, and the last stream is done: end the connection
            self.flush_and_wait(LAST_WRITE_WAIT)
            self._fail()
        else:
            self.flush()

    def _websocket(
        self, channel: StreamTransport, raw: RawConnection, pseudo: dict[str, str], headers: Headers
    ) -> SessionResult:
        result = SessionResult()
        routed = self._route(raw, pseudo, headers)
        if isinstance(routed, Reject):
            return self._refuse(channel, result, routed)
        request, suite = routed
        response_headers: list[tuple[str, str]] = []

        def accept(request: Request) -> Accept:
            header, codec = negotiate_extensions(request)
            if request.ws_protocol is not None:
                response_headers.append((c.SEC_WEBSOCKET_PROTOCOL_HEADER, request.ws_protocol))
            if header:
                response_headers.append((c.SEC_WEBSOCKET_EXTENSIONS_HEADER, header))
            response_headers.extend(request.extra_headers)
            return Accept(b"", new_core(self.options, codec, request.ws_resource))

        outcome = negotiate(suite, request, Dialect(check_subprotocol, accept))
        if isinstance(outcome, Drop):
            result.error = outcome.reason
            channel.abort()
            return result
        if isinstance(outcome, Reject):
            return self._refuse(channel, result, outcome)
        channel.respond(200, response_headers)
        result.status = 200
        return self._run(channel, raw, request, suite, outcome, result)

    def _route(
        self, raw: RawConnection, pseudo: dict[str, str], headers: Headers
    ) -> tuple[Request, HandlerSuite] | Reject:
        """RFC 8441 4 and 5: an extended CONNECT naming websocket, then the handler
        and the version-independent offer, as HTTP/1.1's route does."""
        try:
            if pseudo.get(":protocol") != "websocket":
                raise HandshakeException(
                    f"CONNECT without :protocol websocket ({pseudo.get(':protocol')!r})", 400
                )
            for name in (":scheme", ":path", ":authority"):
                if not pseudo.get(name):
                    raise HandshakeException(f"extended CONNECT without {name}", 400)
            # RFC 8441 5: no Sec-WebSocket-Key (nor Upgrade, which h2 itself refuses).
            if c.SEC_WEBSOCKET_KEY_HEADER in headers:
                raise HandshakeException("Sec-WebSocket-Key is not used over HTTP/2", 400)
            resource = pseudo[":path"]
            resource, fragment, _ = resource.partition("#")
            suite = self.dispatcher.get_handler_suite(resource)
            if suite is None:
                raise HandshakeException(f"no WebSocket handler for {resource[:200]}", 404)
            if fragment:  # RFC 6455 3: a WebSocket URI has no fragment
                raise HandshakeException("fragment identifier in a WebSocket URI")
            offer = read_client_offer(headers)
            if c.HOST_HEADER not in headers:  # handlers read headers_in['Host']
                headers = Headers([(c.HOST_HEADER, pseudo[":authority"]), *headers.items()])
            request = Request(
                uri=resource,
                method="CONNECT",
                headers_in=headers,
                connection=raw,
                protocol="HTTP/2",
                secure=self.secure,
            )
            request.peer_certificate = self._peer_certificate
            apply_offer(request, offer, self.options)
        except HandshakeException as exc:
            return reject_for(exc)
        return request, suite

    def _refuse(
        self, channel: StreamTransport, result: SessionResult, reject: Reject
    ) -> SessionResult:
        result.status, result.error = reject.status, reject.message
        channel.refuse(reject.status, reject.message, reject.headers)
        return result

    def _run(
        self,
        channel: StreamTransport,
        raw: RawConnection,
        request: Request,
        suite: HandlerSuite,
        outcome: Accept,
        result: SessionResult,
    ) -> SessionResult:
        """The handler over the stream, as session.run_websocket runs it over TCP."""
        stream = Stream(
            request, raw, outcome.core, suite.passive_closing_handshake, self.options.close_timeout
        )
        request.ws_stream = stream
        with self.cond:
            channel.ws_stream = stream
        channel.set_timeout(self.options.idle_timeout)
        if not run_transfer_data(
            suite, request, stream, result, channel.abort, "resetting the stream"
        ):
            return result
        stream._drain_after_close(self.options.close_timeout)
        stream._events = []
        return result

    def _static(
        self, channel: StreamTransport, raw: RawConnection, method: str, target: str
    ) -> int:
        """A document-root file, with server/static.py's path rules."""
        head_only = method == "HEAD"
        path = resolve_path(self.options.document_root, target)
        if path is None or not os.path.isfile(path):
            channel.refuse(404, f"{target[:200]} was not found", head_only=head_only)
            return 404
        try:
            f = open(path, "rb", buffering=0)
        except OSError:
            channel.refuse(403, "", head_only=head_only)
            return 403
        with f:
            size = os.fstat(f.fileno()).st_size
            ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
                ctype += "; charset=utf-8"
            channel.respond(
                200, [("content-type", ctype), ("content-length", str(size))], end_stream=head_only
            )
            left = size
            while left > 0 and not head_only:
                data = f.read(min(left, CHUNK_SIZE))
                if not data:
                    break
                raw.write(data)
                left -= len(data)
        return 200

    # --- what the threaded server calls -------------------------------------------------

    def _ws_streams(self) -> list[Stream]:
        with self.cond:
            return [ch.ws_stream for ch in self._streams.values() if ch.ws_stream is not None]

    def close_nowait(self, code: int, reason: str) -> bool:
        """Graceful shutdown: Close ``code`` on every WebSocket stream, then GOAWAY;
        True once both went (asked again until then)."""
        done = True
        for stream in self._ws_streams():
            try:
                done = stream.close_nowait(code, reason) and done
            except Exception:  # the stream may be failing already
                pass
        if done and not self._goaway_sent:
            # Serialized here rather than by h2's close_connection, after which h2
            # refuses every frame: the streams open now must still finish their
            # closing handshakes (RFC 9113 6.8: streams up to last_stream_id go on).
            with self.cond:
                self._goaway_sent = True
                self._goaway = GoAwayFrame(
                    0,
                    last_stream_id=self._conn.highest_inbound_stream_id,
                    error_code=ErrorCodes.NO_ERROR,
                ).serialize()
                idle = not self._streams
            if idle:
                self.flush_and_wait(LAST_WRITE_WAIT)
                self._fail()
            else:
                self.flush()
        return done

    def keepalive(self, now: float, interval: float, timeout: float) -> bool:
        """A keepalive tick for each WebSocket stream; a silent one is cut (1011)."""
        for stream in self._ws_streams():
            try:
                alive = stream.keepalive(now, interval, timeout)
            except Exception:
                continue
            if not alive:
                _logger.info("keepalive: no answer within %.1fs; closing with 1011", timeout)
                stream.abort(c.STATUS_INTERNAL_ENDPOINT_ERROR, "keepalive ping timeout")
        return True

    def abort(self, code: int, reason: str) -> None:
        for stream in self._ws_streams():
            stream.abort(code, reason)
        self._fail()


def serve(
    sock: socket.socket,
    transport: Transport,
    addr: Address,
    dispatcher: Dispatcher,
    options: ServerOptions,
    *,
    secure: bool,
    peer_certificate: object,
    on_open: Callable[[H2Session], None],
    slots: StreamSlots | None = None,
) -> H2Session:
    """Serve one HTTP/2 connection to its end in the calling thread."""
    session = H2Session(
        sock,
        transport,
        addr,
        dispatcher,
        options,
        secure=secure,
        peer_certificate=peer_certificate,
        slots=slots,
    )
    on_open(session)
    session.serve()
    return session
