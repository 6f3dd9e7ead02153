"""The asyncio driver: one event loop serves every connection (``--engine asyncio``).

The decisions are the session layer's, as for the threaded driver: the loop
reads the request head with ``http1.RequestHeadReader`` under the handshake
timeout, routes it (``http1.route``), and then:

- a handler whose ``web_socket_transfer_data`` is a coroutine function runs
  as a task on the loop, ``request.ws_stream`` an :class:`AsyncStream` whose
  awaitable methods keep the blocking stream's semantics, exceptions and
  close codes (``session.Stream``); its extra and passive-closing hooks may
  be coroutines too (plain functions then run on the loop and must not block);
- any other handler runs unchanged in a thread of its own over the blocking
  ``session.Stream`` (the threaded driver's very code: ``run_websocket``),
  whose transport, :class:`_BridgeTransport`, hands every read and write to
  the loop and waits for it;
- plain HTTP (static files, CGI) runs the threaded driver's code in a thread
  over the same bridge.

Per connection there is one task (the one reading) and a :class:`_Channel`,
the transport's protocol (the bytes received and not yet read, the write
queue) and, once open, the stream. Writes made in one loop iteration leave
in one send; a sender waits while the transport's buffer is above its
high-water mark, and fails its connection once no byte has gone out for the
send timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

from ..handlers.dispatch import Dispatcher, HandlerSuite, default_passive_closing_handshake
from ..handlers.request import Request
from ..options import ServerOptions
from ..protocol import constants as c
from ..protocol.errors import (
    AbortedByUserException,
    BadOperationException,
    ConnectionTerminatedException,
    HandshakeException,
)
from ..protocol.events import Close, Event, Failure, Ping, Pong
from ..protocol.handshake import HttpRequest, error_response, is_websocket_upgrade
from ..protocol.state import CLOSE_SENT, CLOSED, WebSocketCore
from ..session.handshake import Accept, Dialect, Drop, Reject, negotiate, reject_for
from ..session.http1 import Hybi00Upgrade, RequestHeadReader, reject_bytes, route
from ..session.lifecycle import (
    BAD_PASSIVE_REPLY_CODE,
    NO_WAIT_CODES,
    PassiveClosing,
    close_code_after,
    passive_close_reply,
    ping_hook,
    pong_hook,
)
from ..session.log import printable
from . import auth, cgi, heap
from .session import (
    RawConnection,
    SessionResult,
    Stream,
    StreamBase,
    log_access,
    message_payload,
    run_websocket,
)
from .static import serve_file
from .threaded import CUT_RESERVE, SEND_TICKS, SHUTDOWN_POLL, ThreadedServer

__all__ = ["AioServer", "AsyncRawConnection", "AsyncStream", "is_async_handler"]

_logger = logging.getLogger("mod_pywebsocket.server")
_session_logger = logging.getLogger("mod_pywebsocket.session")

# Received bytes a handler has not taken yet: past this, the transport stops
# reading (the peer then waits on TCP) until the handler takes messages.
READ_LIMIT = 512 * 1024
READ_SIZE = 256 * 1024
HEAD_READ_SIZE = 8192
# The transport's write buffer: a sender waits above the high mark, until the
# buffer is back under the low one.
WRITE_HIGH_WATER = 256 * 1024
WRITE_LOW_WATER = 64 * 1024
# The writes of one loop iteration are joined into one send below this size.
JOIN_SIZE = 64 * 1024

_T = TypeVar("_T")

_HANDSHAKE_TIMEOUT = reject_for(
    HandshakeException("handshake timeout", c.HTTP_STATUS_REQUEST_TIMEOUT)
)


def is_async_handler(suite: HandlerSuite) -> bool:
    """A handler file whose ``web_socket_transfer_data`` is ``async def`` runs on the loop."""
    return suite.async_transfer_data


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (never required), else asyncio's own.
    MOD_PYWEBSOCKET_NO_UVLOOP=1 keeps asyncio's loop with uvloop installed."""
    if os.environ.get("MOD_PYWEBSOCKET_NO_UVLOOP"):
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


# What a channel's waiters are woken with. Never an exception: a future holding
# one, awaited in a frame that keeps the future in a local, is a reference cycle
# (frame, future, exception, traceback, frame) that holds the connection and its
# buffers until the cyclic collector's next full pass; the 3-minute soak ran 25
# MB above its warm-up level from such cycles. The waiting code raises instead.
_EXPIRED = "expired"
_LOST = "lost"


def _expire(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_EXPIRED)


class _Channel(asyncio.Protocol):
    """One connection on the loop, as the transport's protocol: the bytes received
    and not yet read, the waiting reader, the writes of this loop iteration, the
    send timeout, and cutting. No stream reader or writer: ``data_received``
    hands each chunk over as it came (no copy), and one future at a time waits.
    The writes of one loop iteration are joined into one transport write: both
    asyncio's and uvloop's transports make a send per write (with uvloop, 64
    connections x 16 in flight ran at 0.43x of the joined writes).
    """

    __slots__ = (
        "_chunks",
        "_closed",
        "_lost",
        "_drain_waiters",
        "_eof",
        "_error",
        "_flush_scheduled",
        "_loop",
        "_on_open",
        "_over_tls",
        "_pending",
        "_pending_size",
        "_read_paused",
        "_received",
        "_send_timeout",
        "_transport",
        "_waiter",
        "_write_paused",
        "read_timeout",
    )

    def __init__(
        self,
        on_open: Callable[[_Channel], None],
        send_timeout: float | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._on_open: Callable[[_Channel], None] | None = on_open
        self._send_timeout = send_timeout
        # Passed in, not asked for: on 3.11 get_running_loop() costs a getpid().
        self._loop = loop
        self._transport: asyncio.Transport  # set by connection_made, before any other call
        self._over_tls = False
        self._chunks: list[bytes] = []  # a deque costs 760 bytes per idle connection
        self._received = 0
        self._eof = False
        self._error: BaseException | None = None
        self._read_paused = False
        self._waiter: asyncio.Future[object] | None = None
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[object]] = []
        self._lost = False
        self._closed: asyncio.Future[None] | None = None  # made by close() when it waits
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._flush_scheduled = False
        self.read_timeout: float | None = None

    # --- the transport's calls ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream: asyncio.Transport = transport  # type: ignore[assignment]  # uvloop's: no subclass
        stream.set_write_buffer_limits(WRITE_HIGH_WATER, WRITE_LOW_WATER)
        self._transport = stream
        self._over_tls = transport.get_extra_info("sslcontext") is not None
        on_open, self._on_open = self._on_open, None
        assert on_open is not None
        on_open(self)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._received += len(data)
        if self._received > READ_LIMIT and not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return not self._over_tls  # keep the half-open socket for our Close and EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._error = exc
        self._wake_reader()
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(_LOST)
        self._lost = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def push_back(self, data: bytes) -> None:
        """Bytes read past the request head: the next reads return them first."""
        if data:
            self._chunks.insert(0, data)
            self._received += len(data)

    # --- reading --------------------------------------------------------------------

    async def read(self, size: int, timeout: float | None) -> bytes:
        """Up to ``size`` bytes as soon as some arrive; b'' at the end of the stream.
        TimeoutError past ``timeout``; OSError when the connection broke."""
        if not self._chunks and not self._eof:
            if self._pending:
                # The reader is about to wait: what it wrote meanwhile (an
                # echo's replies to the frames of the last read) goes now, in
                # this loop iteration, instead of in the next.
                self.flush()
            # Waiting inline, not in a helper coroutine: an idle connection's
            # task holds one frame less.
            assert self._waiter is None, "one reader at a time"
            waiter = self._waiter = self._loop.create_future()
            timer = None if timeout is None else self._loop.call_later(timeout, _expire, waiter)
            try:
                woken = await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if woken is _EXPIRED:
                raise TimeoutError()
        data = self.take(size)
        assert data is not None  # woken by data, the end of the stream or the timer
        return data

    def take(self, size: int) -> bytes | None:
        """What ``read`` returns when bytes have arrived or the stream has ended;
        None (without waiting) when neither."""
        chunks = self._chunks
        if not chunks:
            return self._end_of_stream() if self._eof else None
        data = chunks.pop(0)
        if len(data) > size:
            chunks.insert(0, data[size:])
            data = data[:size]
        elif chunks and len(data) + len(chunks[0]) <= size:
            # Several small chunks queued: one read takes them all (one parse).
            parts = [data]
            room = size - len(data)
            while chunks and len(chunks[0]) <= room:
                room -= len(chunks[0])
                parts.append(chunks.pop(0))
            data = b"".join(parts)
        self._received -= len(data)
        if self._read_paused and self._received <= READ_LIMIT // 2:
            self._read_paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()
        return data

    def _end_of_stream(self) -> bytes:
        if self._error is not None:
            error = self._error
            if isinstance(error, OSError):
                raise error
            raise ConnectionResetError(str(error)) from error
        return b""

    async def read_exact(self, size: int, timeout: float | None) -> bytes:
        """Exactly ``size`` bytes, fewer at the end of the stream, all within ``timeout``."""
        chunks: list[bytes] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while size > 0:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            data = await self.read(size, left)
            if not data:
                break
            chunks.append(data)
            size -= len(data)
        return b"".join(chunks)

    # --- writing --------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` with the other writes of this loop iteration.
        ConnectionResetError once the connection is closed (as a send on a reset socket)."""
        transport = self._transport
        if transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= WRITE_HIGH_WATER:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        pending = self._pending
        if pending:
            size = self._pending_size
            self._pending = []
            self._pending_size = 0
            transport = self._transport
            if transport.is_closing():
                return
            if len(pending) == 1:
                transport.write(pending[0])
            elif size < JOIN_SIZE:
                transport.write(b"".join(pending))  # one send for the iteration's frames
            else:
                # Large payloads are not copied into a joined buffer (3.11's
                # writelines joins; the transport keeps what it cannot send at once).
                for data in pending:
                    transport.write(data)

    def release(self) -> None:
        """The session is over: what it wrote goes to the transport, what it
        did not read is dropped."""
        self.flush()
        self._chunks = []
        self._received = 0

    def buffered(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_size

    def writable(self) -> bool:
        """True when a small write would not make its sender wait."""
        return not self._transport.is_closing() and self.buffered() < WRITE_HIGH_WATER

    async def drain(self) -> None:
        """Wait while the buffer is above its high-water mark. TimeoutError once no
        byte has gone out for the send timeout (a slow reader that keeps taking
        bytes is not cut); ConnectionResetError when the connection is gone."""
        if self.writable():
            return
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.flush()
        timeout = self._send_timeout
        tick = None if timeout is None else timeout / SEND_TICKS
        size = self._transport.get_write_buffer_size()
        idle_ticks = 0
        while self._write_paused:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            timer = None if tick is None else self._loop.call_later(tick, _expire, waiter)
            try:
                woken = await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                with contextlib.suppress(ValueError):
                    self._drain_waiters.remove(waiter)
            if woken is _LOST:
                raise ConnectionResetError("the connection is closed")
            if woken is _EXPIRED:
                now = self._transport.get_write_buffer_size()
                idle_ticks = 0 if now < size else idle_ticks + 1
                size = now
                if idle_ticks >= SEND_TICKS:
                    raise TimeoutError(f"send made no progress for {timeout:g}s")
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is closed")

    async def send(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            if chunk:
                self.write(chunk)
        await self.drain()

    def abort(self) -> None:
        """Cut the connection: what is queued goes if the socket takes it at once,
        then readers see the end of the stream and writers ConnectionResetError."""
        self.flush()
        self._transport.abort()

    async def shutdown_write(self) -> bool:
        """Send EOF after the queued bytes; False when the transport cannot (TLS)."""
        self.flush()
        transport = self._transport
        if transport.is_closing() or not transport.can_write_eof():
            return False
        transport.write_eof()
        return True

    async def drain_after_close(self, timeout: float | None) -> None:
        """Send EOF and read until the peer's, so that closing sends no RST."""
        with contextlib.suppress(OSError, TimeoutError):
            if not await self.shutdown_write():
                return
            wait = timeout if timeout is not None else 5.0
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not await self.read(65536, deadline - time.monotonic()):
                    return

    async def close(self, timeout: float | None) -> None:
        """Close after the queued bytes left; cut when the peer takes none for ``timeout``."""
        self.flush()
        transport = self._transport
        transport.close()
        if self._lost or transport.get_write_buffer_size() == 0:
            return  # nothing left to send: nothing to cut
        if self._closed is None:
            self._closed = self._loop.create_future()
        try:
            async with asyncio.timeout(timeout if timeout is not None else 5.0):
                await asyncio.shield(self._closed)
        except (Exception, asyncio.CancelledError):
            transport.abort()


class _BridgeTransport:
    """``session.Transport`` for a blocking handler's thread: each call runs on the
    loop and the thread waits for it. Called on the loop itself (keepalive,
    shutdown and abort, which write only when :meth:`writable`), writes are
    queued without waiting."""

    __slots__ = ("_channel", "_loop", "_loop_thread", "_timeout")

    def __init__(self, channel: _Channel, loop: asyncio.AbstractEventLoop) -> None:
        self._channel = channel
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._timeout: float | None = None

    def _on_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def _call(self, coro: Coroutine[object, object, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def recv(self, size: int) -> bytes:
        return self._call(self._channel.read(size, self._timeout))

    def send(self, data: bytes | bytearray | memoryview) -> None:
        # A copy: callers reuse their buffers (static files read into one).
        self.sendv((bytes(data),))

    def sendv(self, chunks: Sequence[bytes]) -> None:
        chunks = [bytes(chunk) for chunk in chunks]
        if self._on_loop():
            for chunk in chunks:
                self._channel.write(chunk)
            return
        self._call(self._channel.send(chunks))

    def set_timeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def abort(self) -> None:
        if self._on_loop():
            self._channel.abort()
        else:
            self._loop.call_soon_threadsafe(self._channel.abort)

    def writable(self) -> bool:
        return self._channel.writable()

    def shutdown_write(self) -> bool:
        return self._call(self._channel.shutdown_write())


class AsyncRawConnection:
    """``request.connection`` for an async handler: ``write`` queues raw bytes
    (unframed), ``await read(n)`` returns as soon as some arrive."""

    __slots__ = ("_channel", "_counts", "local_addr", "remote_addr")

    def __init__(self, channel: _Channel, counts: RawConnection) -> None:
        self._channel = channel
        self._counts = counts
        self.remote_addr = counts.remote_addr
        self.local_addr = counts.local_addr

    def write(self, data: bytes) -> None:
        self._counts.bytes_out += len(data)
        self._channel.write(bytes(data))

    async def read(self, length: int) -> bytes:
        data = await self._channel.read(length, self._channel.read_timeout)
        self._counts.bytes_in += len(data)
        return data

    async def read_exact(self, length: int) -> bytes:
        chunks = []
        while length > 0:
            data = await self.read(length)
            if not data:
                break
            chunks.append(data)
            length -= len(data)
        return b"".join(chunks)


async def _maybe_await(value: object) -> object:
    if inspect.isawaitable(value):
        return await value
    return value


class _Gate:
    """One stream's readers' (or writers') lock: ``asyncio.Lock``'s guarantees
    (first come, first served; a waiter cancelled before its turn leaves the
    queue, one cancelled after it passes the turn on), with a synchronous
    uncontended path. ``async with asyncio.Lock()`` runs three coroutines per
    message; the hot paths here take a free gate with ``take_nowait`` and
    await only when another task holds it. Released, a gate is handed to the
    first waiter directly, so a newcomer cannot pass one already woken."""

    __slots__ = ("_busy", "_waiters")

    def __init__(self) -> None:
        self._busy = False
        self._waiters: list[asyncio.Future[None]] | None = None  # made when first needed

    def locked(self) -> bool:
        return self._busy

    def take_nowait(self) -> bool:
        if self._busy:
            return False
        self._busy = True
        return True

    async def acquire(self) -> None:
        if self.take_nowait():
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over as we were cancelled: pass it on
            elif self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the gate stays taken: it is the waiter's now
                return
        self._busy = False

    async def __aenter__(self) -> None:
        if not self.take_nowait():
            await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


class AsyncStream(StreamBase):
    """``request.ws_stream`` of an async handler: ``session.Stream``'s semantics, awaited.

    ``await receive_message()``, ``await send_message(message, end, binary)``,
    ``await close_connection(code, reason, wait_response)``, ``await
    send_ping(body)`` raise what the blocking ones raise and send the same
    close codes. One task may receive while another sends (a read lock and
    a write lock, as the blocking stream's); a send waits while the
    transport's buffer is full, and a send that fails (the send timeout
    included) cuts the connection: later calls raise
    ConnectionTerminatedException.
    """

    __slots__ = (
        "_channel",
        "_close_delivered",
        "_close_request",
        "_close_timeout",
        "_core",
        "_event_index",
        "_events",
        "_failed",
        "_last_opcode",
        "_passive_closing",
        "_ping_sent_at",
        "_raw",
        "_read_lock",
        "_request",
        "_write_lock",
        "close_code",
        "last_received",
    )

    def __init__(
        self,
        request: Request,
        raw: RawConnection,
        channel: _Channel,
        core: WebSocketCore,
        passive_closing: PassiveClosing | None,
        close_timeout: float | None,
    ) -> None:
        self._request = request
        self._raw = raw  # the access line's byte counts
        self._channel = channel
        self._core = core
        self._passive_closing = passive_closing
        self._close_timeout = close_timeout
        self._read_lock = _Gate()
        self._write_lock = _Gate()
        self._events: list[Event] = []
        self._event_index = 0
        self._last_opcode: int | None = None
        self._failed: str | None = None
        self._close_request: tuple[int, str] | None = None
        self.close_code: int | None = None
        self.last_received = time.monotonic()
        self._ping_sent_at: float | None = None
        self._close_delivered = False
        request.attach_termination(self)

    # --- the closing-handshake state -------------------------------------------------

    @property
    def server_terminated(self) -> bool:
        return self._core.close_sent

    @property
    def client_terminated(self) -> bool:
        return self._close_delivered

    def mark_server_terminated(self) -> None:
        self._core.mark_close_sent()

    def mark_client_terminated(self) -> None:
        self._close_delivered = True
        self._core.mark_close_received()

    # --- writing ----------------------------------------------------------------------

    def _cut(self, why: str) -> ConnectionTerminatedException:
        if self._failed is None:
            self._failed = why
        self._channel.abort()
        return self._terminated()

    def _write(self, data: bytes) -> None:
        if data:
            self._raw.bytes_out += len(data)
            try:
                self._channel.write(data)
            except OSError as exc:
                raise self._send_failed(exc) from exc

    async def _drain(self) -> None:
        try:
            await self._channel.drain()
        except OSError as exc:
            raise self._send_failed(exc) from exc

    async def send_message(
        self, message: str | bytes, end: bool = True, binary: bool = False
    ) -> None:
        """Send a text (``str``) or binary (``bytes``, ``binary=True``) message or fragment."""
        payload = message_payload(message, binary)
        gate = self._write_lock
        if not gate.take_nowait():
            await gate.acquire()
        try:
            if self._failed is not None:
                raise self._terminated()
            state = self._core.state
            if state is CLOSE_SENT or state is CLOSED:
                raise BadOperationException("cannot send a message after the Close frame")
            header, body = self._core.send_data(payload, binary, end)
            self._write(header)
            self._write(body)
            if not self._channel.writable():
                await self._drain()  # waits, or raises what the stream's drain raises
            if self._close_request is not None:
                self._flush_close_request()
        finally:
            gate.release()

    async def send_ping(self, body: bytes | str = b"", binary: bool = False) -> None:
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        async with self._write_lock:
            if self._failed is not None:
                raise self._terminated()
            self._write(self._core.send_ping(payload))
            await self._drain()

    async def _pong(self, payload: bytes) -> None:
        async with self._write_lock:
            if self._failed is not None:
                raise self._terminated()
            self._write(self._core.send_pong(payload))
            await self._drain()

    def close_nowait(self, code: int, reason: str) -> bool:
        """Start the closing handshake without waiting; True once settled (shutdown's)."""
        if self.server_terminated or self._failed is not None:
            return True
        self._close_request = (code, reason)
        if self._write_lock.locked() or not self._channel.writable():
            return False  # the holder sends it after its frame, or ask again later
        self._flush_close_request()
        return True

    async def close_connection(
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
        try:
            async with asyncio.timeout(self._close_timeout):
                await self._write_lock.acquire()
        except TimeoutError:
            self._cut("close_connection: a send to a peer that does not read held the line")
            return
        try:
            sent = self._close_locked(partial(self._core.send_close, code, reason), code)
            if sent:
                await self._drain()
        finally:
            self._write_lock.release()
        if code in NO_WAIT_CODES:
            return
        if sent and wait_response and not self.client_terminated:
            await self._await_close()

    async def _await_close(self) -> None:
        """Wait, within the close timeout, for the peer's answer to our Close
        (Pings answered, Pongs consumed, a data message ends the wait with
        ConnectionTerminatedException), as the blocking stream does."""
        deadline = None if self._close_timeout is None else time.monotonic() + self._close_timeout
        async with self._read_lock:
            while not self.client_terminated:
                left = None
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                try:
                    event = await self._next_event(left)
                except (TimeoutError, ConnectionTerminatedException):
                    return
                if isinstance(event, Close):
                    await self._on_close(event)
                elif isinstance(event, Ping):
                    await self._on_ping(event)
                elif isinstance(event, Pong):
                    await self._on_pong(event)
                elif isinstance(event, Failure):
                    return
                else:
                    raise ConnectionTerminatedException(
                        "a data message came instead of the answer to our Close"
                    )

    # --- reading ----------------------------------------------------------------------

    async def _next_event(self, timeout: float | None = None) -> Event:
        """The next protocol event; every frame of one read is parsed in one call."""
        events = self._events
        channel = self._channel
        while self._event_index >= len(events):
            try:
                data = channel.take(READ_SIZE)  # bytes already here: no wait, no coroutine
                if data is None:
                    data = await channel.read(
                        READ_SIZE, channel.read_timeout if timeout is None else timeout
                    )
            except TimeoutError:
                if self._failed is not None:
                    raise self._terminated() from None
                raise
            except OSError as exc:
                raise self._receive_failed(exc) from exc
            if not data:
                raise self._end_of_stream()
            self._received(data)
            events = self._events
        event = self._parsed_event()
        assert event is not None
        return event

    async def receive_message(self) -> str | bytes | None:
        """The next whole message; None once the peer's Close has arrived."""
        gate = self._read_lock
        if not gate.take_nowait():
            await gate.acquire()
        try:
            if self._failed is not None:
                raise self._terminated()
            if self._close_delivered:
                raise BadOperationException(
                    "receive_message after the peer's Close frame was received"
                )
            while True:
                event = self._parsed_event()  # parsed already: no coroutine
                if event is None:
                    event = await self._next_event()
                if isinstance(event, str):
                    self._last_opcode = c.OPCODE_TEXT
                    return event
                if isinstance(event, bytes):
                    self._last_opcode = c.OPCODE_BINARY
                    return event
                if isinstance(event, Ping):
                    await self._on_ping(event)
                elif isinstance(event, Pong):
                    await self._on_pong(event)
                elif isinstance(event, Close):
                    self._last_opcode = c.OPCODE_CLOSE
                    await self._on_close(event)
                    return None
                else:
                    assert isinstance(event, Failure)
                    await self._on_failure(event)
        finally:
            gate.release()

    async def _on_ping(self, event: Ping) -> None:
        self._last_opcode = c.OPCODE_PING
        hook = ping_hook(self._request)
        if hook is not None:
            await _maybe_await(hook(self._request, event.payload))
        else:
            await self._pong(event.payload)

    async def _on_pong(self, event: Pong) -> None:
        self._last_opcode = c.OPCODE_PONG
        hook = pong_hook(self._request)
        if hook is not None:
            await _maybe_await(hook(self._request, event.payload))

    async def _on_close(self, event: Close) -> None:
        if not self._peer_closed(event):
            return
        request = self._request
        passive = self._passive_closing
        if passive is not None and inspect.iscoroutinefunction(passive):
            # AbortedByUserException propagates: the session drops TCP without a reply.
            answer = await passive(request)
            code, reason = passive_close_reply(lambda _: answer, request)
        else:
            code, reason = passive_close_reply(passive, request)
        gate = self._write_lock
        if not gate.take_nowait():
            await gate.acquire()
        try:
            try:
                sent = self._close_locked(partial(self._core.send_close, code, reason), code)
            except BadOperationException as exc:
                _session_logger.warning(
                    "passive closing handshake returned %r: %s", (code, reason), exc
                )
                sent = self._close_locked(
                    partial(self._core.fail, BAD_PASSIVE_REPLY_CODE), BAD_PASSIVE_REPLY_CODE
                )
            if sent:
                await self._drain()
        finally:
            gate.release()

    async def _on_failure(self, event: Failure) -> None:
        code, reason = self._failing(event)
        async with self._write_lock:
            if self._close_locked(partial(self._core.fail, code, reason), code):
                await self._drain()
        raise event.exc

    # --- driver's calls (on the loop, never waiting) ---------------------------------

    def _keepalive_ping(self) -> bool:
        if self._write_lock.locked():
            return False
        if self._channel.writable() and not self.server_terminated:
            with contextlib.suppress(ConnectionTerminatedException):
                self._write(self._core.send_ping(b"keepalive"))
        return True

    def abort(self, code: int, reason: str) -> None:
        """Fail the connection at once: a Close if the line is free, then the cut."""
        if not self._write_lock.locked() and self._channel.writable():
            with contextlib.suppress(Exception):
                self._close_locked(partial(self._core.fail, code, reason), code)
        self._cut(f"aborted with {code}: {reason}")

    async def receive_bytes(self, length: int) -> bytes:
        """Raw bytes from the connection (pywebsocket3's stream API)."""
        data = await self._channel.read_exact(length, self._channel.read_timeout)
        self._raw.bytes_in += len(data)
        if len(data) < length:
            raise ConnectionTerminatedException("the peer closed the connection")
        return data


async def _negotiate(
    suite: HandlerSuite, request: Request, dialect: Dialect
) -> Accept | Reject | Drop:
    """``handshake.negotiate`` with an ``async def web_socket_do_extra_handshake``
    awaited first: its outcome (or exception) is replayed to the session layer,
    whose policy (403, 400, AbortedByUserException) stays the one home."""
    if not suite.async_extra_handshake:
        return negotiate(suite, request, dialect)
    failure: Exception | None = None
    try:
        await suite.do_extra_handshake(request)
    except Exception as exc:
        failure = exc

    def replay(_: object) -> None:
        if failure is not None:
            raise failure

    return negotiate(suite, request, dialect, replay)


async def _transfer_data(suite: HandlerSuite, request: Request, stream: AsyncStream) -> None:
    """``lifecycle.transfer_data`` for a coroutine handler: the same exceptions, the
    same close codes (``lifecycle.close_code_after``)."""
    try:
        await suite.transfer_data(request)
        if not request.server_terminated:
            await stream.close_connection()
    except AbortedByUserException:
        raise
    except Exception as exc:
        if isinstance(exc, TimeoutError):
            _session_logger.info("%s: idle timeout", printable(request.ws_resource))
        code = close_code_after(exc)
        if code is None:
            if not isinstance(exc, ConnectionTerminatedException):
                raise
            _session_logger.debug(
                "%s: connection terminated: %s", printable(request.ws_resource), exc
            )
            return
        if not request.server_terminated:
            await stream.close_connection(code)


AnyStream = Stream | AsyncStream


class AioServer:
    """The asyncio engine, with the threaded server's interface (``serve_forever``,
    ``shutdown``, ``server_close``, ``close_connections``, ``connection_count``,
    ``server_port``, ``_sockets``), so the command line and embedding pick either.

    Listening sockets, handler loading and the TLS context are the threaded
    server's (built, never run). The loop runs in a thread of its own from
    :meth:`serve_forever` until :meth:`close_connections` has closed the
    connections, so the closing handshakes of a shutdown still have a loop.
    """

    def __init__(self, options: ServerOptions, dispatcher: Dispatcher | None = None) -> None:
        if options.http2:
            raise ValueError(
                "--http2 runs on the threaded engine only: drop --engine asyncio or --http2"
            )
        base = ThreadedServer(options, dispatcher)
        self._base = base
        self.options = options
        self.dispatcher = base.dispatcher
        self.secure = base.secure
        self._tls = base._tls
        self._sockets = base._sockets
        self.server_port = base.server_port
        self.server_address = base.server_address
        self._cgi_directories = base._cgi_directories
        self._connections: dict[_Channel, AnyStream | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._started = threading.Event()
        self._stop_serving = threading.Event()
        self._is_shut_down = threading.Event()
        self._is_shut_down.set()
        self._finished: asyncio.Event | None = None

    # --- the loop's thread --------------------------------------------------------------

    def _run_loop(self) -> None:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        _logger.info("asyncio engine on %s", type(self._loop).__module__.partition(".")[0])
        self._finished = asyncio.Event()
        options = self.options
        loop = self._loop
        for sock, _ in self._sockets:
            server = await loop.create_server(
                partial(_Channel, self._accept, options.send_timeout, loop),
                sock=sock,
                ssl=self._tls,
                ssl_handshake_timeout=options.handshake_timeout if self._tls else None,
            )
            self._servers.append(server)
        keepalive = asyncio.create_task(self._keepalive_loop()) if options.ping_interval else None
        trimmer = heap.Trimmer()
        trimming = asyncio.create_task(self._trim_loop(trimmer)) if trimmer.available else None
        self._started.set()
        await self._finished.wait()
        for task in (keepalive, trimming):
            if task is not None:
                task.cancel()

    def _call(self, coro: Coroutine[object, object, _T], timeout: float | None = None) -> _T:
        assert self._loop is not None
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown` is called (in the loop's thread; this one waits)."""
        self._is_shut_down.clear()
        self._stop_serving.clear()
        if self._loop_thread is None:
            self._loop_thread = threading.Thread(target=self._run_loop, name="ws-loop", daemon=True)
            self._loop_thread.start()
        self._started.wait()
        try:
            self._stop_serving.wait()
            self._call(self._stop_accepting())
        finally:
            self._is_shut_down.set()

    async def _stop_accepting(self) -> None:
        for server in self._servers:
            server.close()

    def shutdown(self) -> None:
        """Stop accepting; open connections go on until :meth:`close_connections`."""
        self._stop_serving.set()
        self._is_shut_down.wait()

    def server_close(self) -> None:
        """Close the listening sockets."""
        if (
            self._loop is not None
            and self._loop_thread is not None
            and self._loop_thread.is_alive()
        ):
            self._call(self._stop_accepting())
        for sock, _ in self._sockets:
            sock.close()

    def close_connections(self, code: int = c.STATUS_GOING_AWAY, grace: float = 5.0) -> None:
        """Close every WebSocket with ``code`` within ``grace`` seconds, then stop the loop."""
        if self._loop is None or self._loop_thread is None:
            return
        try:
            self._call(self._close_all(code, grace), grace + 5.0)
        finally:
            assert self._finished is not None
            self._loop.call_soon_threadsafe(self._finished.set)
            self._loop_thread.join(5.0)
            self._loop_thread = None

    async def _close_all(self, code: int, grace: float) -> None:
        """The threaded server's shutdown, on the loop: ask every stream for its Close
        until it is settled or the grace is nearly over, cut the rest, let their
        access lines be written."""
        deadline = time.monotonic() + grace
        cut_at = deadline - min(CUT_RESERVE, grace / 4)
        settled: set[AnyStream] = set()
        while self._connections and time.monotonic() < cut_at:
            for stream in [
                s for s in self._connections.values() if s is not None and s not in settled
            ]:
                try:
                    done = stream.close_nowait(code, "server shutting down")
                except Exception:
                    done = True
                if done:
                    settled.add(stream)
            await asyncio.sleep(SHUTDOWN_POLL)
        for channel in list(self._connections):
            channel.abort()
        while self._connections and time.monotonic() < deadline:
            await asyncio.sleep(SHUTDOWN_POLL)

    def connection_count(self) -> int:
        return len(self._connections)

    async def _keepalive_loop(self) -> None:
        """One task pings every quiet connection (none per connection)."""
        interval = self.options.ping_interval
        assert interval is not None
        timeout = self.options.ping_timeout or interval
        tick = min(interval, timeout) / 4
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for stream in [s for s in self._connections.values() if s is not None]:
                try:
                    alive = stream.keepalive(now, interval, timeout)
                except Exception:
                    continue
                if not alive:
                    _logger.info("keepalive: no answer within %.1fs; closing with 1011", timeout)
                    stream.abort(c.STATUS_INTERNAL_ENDPOINT_ERROR, "keepalive ping timeout")

    async def _trim_loop(self, trimmer: heap.Trimmer) -> None:
        """Give the C heap's free memory back after large buffers (server/heap.py)."""
        while True:
            await asyncio.sleep(heap.TRIM_INTERVAL)
            if trimmer.due():
                await self._in_thread(trimmer.trim)  # a thread that ends: none is kept

    # --- one connection -----------------------------------------------------------------

    def _accept(self, channel: _Channel) -> None:
        """A connection made (past the TLS handshake): its task, held until it ends."""
        self._connections[channel] = None
        assert self._loop is not None
        self._loop.create_task(self._client(channel))

    async def _client(self, channel: _Channel) -> None:
        started = time.monotonic()
        remote = tuple((channel.get_extra_info("peername") or ("-", 0))[:2])
        if len(self._connections) > self.options.max_connections:
            _logger.warning(
                "connection limit (%d) reached; answering 503 to %s",
                self.options.max_connections,
                remote,
            )
            with contextlib.suppress(Exception):
                channel.write(
                    error_response(c.HTTP_STATUS_SERVICE_UNAVAILABLE, "too many connections")
                )
                await channel.close(self.options.close_timeout)
            del self._connections[channel]
            return
        result = SessionResult()
        resource = "-"
        raw = RawConnection(
            _BridgeTransport(channel, channel._loop),
            remote,
            tuple((channel.get_extra_info("sockname") or ("-", 0))[:2]),
        )
        try:
            # No TCP_NODELAY here: asyncio's and uvloop's TCP transports set it.
            head, request = await self._read_request(channel)
            if request is None:
                result.error = "closed before the handshake"
                return
            channel.push_back(head.rest)
            del head  # its buffers: an idle connection's task keeps its frames' locals
            if isinstance(request, Reject):
                self._reject(raw, channel, result, request)
                return
            resource = request.target
            if self.options.use_basic_auth and not auth.is_authorized(
                request.headers, self.options.basic_auth_credential
            ):
                result.status, result.error = 401, "not authorized"
                self._write(raw, channel, auth.unauthorized_response())
            elif is_websocket_upgrade(request) or c.SEC_WEBSOCKET_KEY_HEADER in request.headers:
                run = self._websocket(request, raw, channel)
                del request
                result = await run
            else:
                result.status = await self._in_thread(self._plain_http, request, raw)
        except OSError as exc:
            result.error = result.error or f"{type(exc).__name__}: {exc}"
        except Exception:
            _logger.exception("unexpected error on the connection from %s", _peer(remote))
            result.error = "internal error"
        finally:
            await channel.close(self.options.close_timeout)
            log_access(_peer(remote), resource, result, started, raw)
            del self._connections[channel]

    async def _read_request(
        self, channel: _Channel
    ) -> tuple[RequestHeadReader, HttpRequest | Reject | None]:
        """The request head within the handshake timeout (408), with the reader's limits."""
        reader = RequestHeadReader.for_options(self.options)
        timeout = self.options.handshake_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return reader, _HANDSHAKE_TIMEOUT
            try:
                chunk = await channel.read(HEAD_READ_SIZE, left)
            except TimeoutError:
                return reader, _HANDSHAKE_TIMEOUT
            if not chunk:
                return reader, None
            outcome = reader.feed(chunk)
            if outcome is not None:
                return reader, outcome

    @staticmethod
    def _write(raw: RawConnection, channel: _Channel, data: bytes) -> None:
        raw.bytes_out += len(data)
        channel.write(data)

    def _reject(
        self, raw: RawConnection, channel: _Channel, result: SessionResult, reject: Reject
    ) -> SessionResult:
        result.status, result.error = reject.status, reject.message
        self._write(raw, channel, reject_bytes(reject))
        return result

    def _plain_http(self, request: HttpRequest, raw: RawConnection) -> int:
        """Static files and CGI: the threaded server's code, in a thread, over the bridge."""
        raw.transport.set_timeout(self.options.handshake_timeout)
        if (
            cgi.find_script(self.options.document_root, self._cgi_directories, request.target)
            is not None
        ):
            return cgi.run(
                request,
                raw,
                self.options.document_root,
                self._cgi_directories,
                self.options.cgi_timeout,
                self.server_port,
            )
        return serve_file(self.options.document_root, request, raw, None)

    async def _in_thread(self, function: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        """Run blocking code (a handler, a static file) in a thread of its own."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()

        def run() -> None:
            try:
                value = function(*args, **kwargs)
            except BaseException as exc:  # handed to the loop, which re-raises it
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, value, None)

        threading.Thread(target=run, name="ws-handler", daemon=True).start()
        return await future

    async def _websocket(
        self, http: HttpRequest, raw: RawConnection, channel: _Channel
    ) -> SessionResult:
        certificate = None
        if self.secure:
            ssl_object = channel.get_extra_info("ssl_object")
            certificate = ssl_object.getpeercert() if ssl_object is not None else None
        routed = route(
            http,
            raw,
            self.dispatcher,
            self.options,
            secure=self.secure,
            peer_certificate=certificate,
        )
        if isinstance(routed, Hybi00Upgrade):
            key3 = await channel.read_exact(routed.key3_length, self.options.handshake_timeout)
            raw.bytes_in += len(key3)
            routed = routed.complete(key3)
        assert routed is not None  # only a driver that declines unknown resources gets None
        if isinstance(routed, Reject):
            return self._reject(raw, channel, SessionResult(), routed)
        if not is_async_handler(routed.suite):

            def track(stream: Stream) -> None:
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._track, channel, stream)

            return await self._in_thread(
                run_websocket,
                routed.request,
                raw,
                routed.suite,
                routed.dialect,
                self.options,
                on_open=track,
            )
        run = self._run_async(routed.request, raw, channel, routed.suite, routed.dialect)
        del http, routed  # an idle connection's frames keep only what the session needs
        return await run

    def _track(self, channel: _Channel, stream: AnyStream) -> None:
        if channel in self._connections:
            self._connections[channel] = stream

    async def _run_async(
        self,
        request: Request,
        raw: RawConnection,
        channel: _Channel,
        suite: HandlerSuite,
        dialect: Dialect,
    ) -> SessionResult:
        """``session.run_websocket`` for a coroutine handler, on the loop."""
        result = SessionResult()
        request.connection = AsyncRawConnection(channel, raw)  # type: ignore[assignment]
        outcome = await _negotiate(suite, request, dialect)
        del dialect
        if isinstance(outcome, Drop):
            result.error = outcome.reason
            return result
        if isinstance(outcome, Reject):
            return self._reject(raw, channel, result, outcome)
        self._write(raw, channel, outcome.response)
        result.status = 101
        stream = AsyncStream(
            request,
            raw,
            channel,
            outcome.core,
            # The default reply is the stream's own (1000): no call on every close.
            None
            if suite.passive_closing_handshake is default_passive_closing_handshake
            else suite.passive_closing_handshake,
            self.options.close_timeout,
        )
        del outcome  # the 101's bytes
        request.ws_stream = stream  # type: ignore[assignment]
        self._track(channel, stream)
        channel.read_timeout = self.options.idle_timeout
        try:
            return await self._session(request, suite, stream, channel, result)
        finally:
            # The request and its stream refer to each other (ws_stream, the
            # termination flags): a cycle, freed by the cyclic collector only.
            # What it would hold until then, the parsed messages and the
            # channel's buffers, goes now.
            stream._events = []
            channel.release()

    async def _session(
        self,
        request: Request,
        suite: HandlerSuite,
        stream: AsyncStream,
        channel: _Channel,
        result: SessionResult,
    ) -> SessionResult:
        try:
            await _transfer_data(suite, request, stream)
        except AbortedByUserException:
            result.error = "aborted by handler"
            result.close_code = stream.close_code or c.STATUS_ABNORMAL_CLOSURE
            return result
        except (OSError, ConnectionTerminatedException) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            _session_logger.error(
                "%s: web_socket_transfer_data raised; dropping the connection "
                "without a Close frame",
                printable(request.ws_resource),
                exc_info=exc,
            )
        result.close_code = stream.close_code or c.STATUS_ABNORMAL_CLOSURE
        if not (stream.client_terminated and stream.server_terminated):
            # After both Close frames the peer sends nothing more, and the loop
            # has read all it sent, so closing sends no RST: no half-close and
            # wait for its EOF (which cost a shutdown and a read per handshake).
            await channel.drain_after_close(self.options.close_timeout)
        return result


def _peer(address: tuple[object, ...]) -> str:
    return f"{address[0]}:{address[1]}"


def _settle(future: asyncio.Future[_T], value: _T | None, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)  # type: ignore[arg-type]
