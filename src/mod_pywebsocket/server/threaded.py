"""The threaded standalone driver: blocking I/O, one thread per connection.

Blocking handlers run as they are. Each connection's thread reads the opening
handshake (bounded in size and time), answers plain HTTP from the document
root, or hands the socket to :func:`session.handle_upgrade`; the session
layer's ``http1.RequestHeadReader`` reads the request head. The listening
sockets are exposed as ``_sockets`` (a list of ``(socket, addrinfo)``) because
test harnesses read the bound port from there.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import queue
import select
import selectors
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol

from ..handlers.dispatch import Dispatcher
from ..options import DEFAULT_SHUTDOWN_GRACE, ServerOptions
from ..protocol import constants as c
from ..protocol.errors import HandshakeException
from ..protocol.handshake import HttpRequest, error_response, is_websocket_upgrade
from ..session.handshake import Reject, reject_for
from ..session.http1 import RequestHeadReader, reject_bytes
from . import auth, cgi
from .session import (
    RawConnection,
    SessionResult,
    Stream,
    handle_upgrade,
    log_access,
    send_reject,
)
from .static import serve_file
from .tls import build_server_context

_logger = logging.getLogger("mod_pywebsocket.server")

Address = tuple[str, int] | tuple[str, int, int, int]
"""A peer's or a listener's address: IPv4's (host, port) or IPv6's 4-tuple."""
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Address]

# Stack size of connection threads for the command-line server: 10,000 threads
# at Python's default (8 MiB) would reserve 80 GiB of address space. Only
# ``standalone.main`` sets it; embedding processes keep their own setting.
THREAD_STACK_SIZE = 1024 * 1024
WORKER_IDLE_SECONDS = 2.0
# Shutdown: the end of the grace kept for cutting what is left and letting those
# connections' threads write their access lines: CUT_RESERVE, plus CUT_PER_CONNECTION
# for each open connection, at most half the grace. 3000 connections take 0.4 s on
# an idle 2-core machine and over 1 s on a busy one, so the reserve grows with them.
CUT_RESERVE = 1.0
CUT_PER_CONNECTION = 0.0005
# A blocked send wakes this many times per send timeout to see whether any byte went out.
SEND_TICKS = 4
SHUTDOWN_POLL = 0.02
# Exhausted resources: accepting pauses this long at first, doubling to the
# maximum while failures go on; one log line per interval per condition.
BACKOFF_MIN = 0.05
BACKOFF_MAX = 1.0
EXHAUSTION_LOG_INTERVAL = 10.0
# accept() errors that mean "no descriptor or no memory now": retrying at once
# would spin, since the waiting connection keeps the listener readable.
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

HTTP2_MISSING = "HTTP/2 (--http2) needs the h2 package: pip install 'mod_pywebsocket[http2]'"


class LiveSession(Protocol):
    """What shutdown and keepalive call on an open connection: its WebSocket
    :class:`Stream`, or an HTTP/2 connection's session (server/http2.py)."""

    def close_nowait(self, code: int, reason: str) -> bool: ...

    def keepalive(self, now: float, interval: float, timeout: float) -> bool: ...

    def abort(self, code: int, reason: str) -> None: ...


def _load_http2() -> ModuleType:
    """server/http2.py, which needs the optional h2 package; ValueError without it."""
    try:
        from . import http2
    except ImportError as exc:
        raise ValueError(f"{HTTP2_MISSING} ({exc})") from None
    return http2


class _RateLimitedWarning:
    """One warning per interval for a recurring condition; the next one counts the rest."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = -math.inf
        self._unlogged = 0

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            self._unlogged += 1
            return
        if self._unlogged:
            message += " (%d more since the last report)"
            args += (self._unlogged,)
        self._last, self._unlogged = now, 0
        _logger.warning(message, *args)


def _open_reserve() -> int | None:
    """A spare descriptor: given back at EMFILE, it makes room for one accept and its 503."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _refuse(sock: socket.socket, reason: str) -> None:
    """Answer 503 without waiting on the peer, then close."""
    try:
        sock.setblocking(False)
        sock.send(error_response(c.HTTP_STATUS_SERVICE_UNAVAILABLE, reason))
    except OSError:
        pass
    sock.close()


def _os_timeout(seconds: float | None) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO / SO_SNDTIMEO; zero means no timeout."""
    if seconds is None:
        return struct.pack("@ll", 0, 0)
    micros = max(1, round(seconds * 1_000_000))  # a due timeout must not become "none"
    return struct.pack("@ll", micros // 1_000_000, micros % 1_000_000)


def cut(sock: socket.socket) -> None:
    """Shut both directions so that blocked reads and writes on ``sock`` return at once.

    For a TLS socket this bypasses ``SSLSocket.shutdown``, which would drop the
    TLS state under threads still using it.
    """
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class SocketTransport:
    """A plain socket as a session transport; bytes read past the handshake come first.

    Each send is bounded by the send timeout: once no byte has gone out for
    that long (to within a quarter of it), it raises TimeoutError; a slow
    reader that keeps taking bytes is not cut, as with nginx's send_timeout.
    Each read waits at most the timeout last given to :meth:`set_timeout`. The
    socket stays blocking and the kernel keeps both bounds (SO_RCVTIMEO,
    SO_SNDTIMEO), so the hot path stays one system call per read or write,
    and a reader and a writer on two threads each have their own bound.
    """

    __slots__ = ("sock", "_prefix", "_vectored", "_send_timeout")

    def __init__(
        self, sock: socket.socket, prefix: bytes = b"", send_timeout: float | None = None
    ) -> None:
        self.sock = sock
        self._prefix = prefix
        self._vectored = not isinstance(sock, ssl.SSLSocket)  # TLS sockets have no sendmsg
        self._send_timeout = send_timeout
        self._setup()

    def _setup(self) -> None:
        self.sock.settimeout(None)  # blocking: the kernel's timeouts below apply
        # SO_SNDTIMEO bounds one whole call: a send that copied a few bytes at once
        # and then waited returns them only when it expires. So the kernel wakes a
        # blocked send every tick, and _send_rest counts the ticks with no byte out.
        tick = None if self._send_timeout is None else self._send_timeout / SEND_TICKS
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _os_timeout(tick))

    def _send_timed_out(self) -> TimeoutError:
        return TimeoutError(f"send made no progress for {self._send_timeout:g}s")

    def recv(self, size: int) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        try:
            return self.sock.recv(size)
        except BlockingIOError:  # SO_RCVTIMEO passed
            raise TimeoutError("read timed out") from None

    def send(self, data: bytes | bytearray | memoryview) -> None:
        try:
            sent = self.sock.send(data)
        except BlockingIOError:  # a whole tick and not a byte went out
            sent = -1
        if sent != len(data):
            self._send_rest([memoryview(data)], sent)

    def sendv(self, chunks: Sequence[bytes]) -> None:
        views = [memoryview(chunk) for chunk in chunks if chunk]
        try:
            sent = self.sock.sendmsg(views)
        except BlockingIOError:
            sent = -1
        if sent != sum(len(view) for view in views):
            self._send_rest(views, sent)

    def _send_rest(self, views: list[memoryview], sent: int) -> None:
        """Finish a send the kernel cut short: ``sent`` bytes of ``views`` went out (-1:
        the call timed out with none). TimeoutError after SEND_TICKS ticks in a row
        with no byte out, so the bound counts from the last byte that left."""
        idle_ticks = 0
        while True:
            if sent < 0:
                idle_ticks += 1
                if idle_ticks >= SEND_TICKS:
                    raise self._send_timed_out()
            else:
                idle_ticks = 0
                while views and sent >= len(views[0]):
                    sent -= len(views[0])
                    views.pop(0)
                if not views:
                    return
                if sent:
                    views[0] = views[0][sent:]
            try:
                sent = self.sock.sendmsg(views)
            except BlockingIOError:
                sent = -1

    def set_timeout(self, timeout: float | None) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _os_timeout(timeout))

    def writable(self) -> bool:
        """True when the socket has room, so a small write would not wait."""
        fd = self.sock.fileno()
        if fd < 0:
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLOUT for _, events in poller.poll(0))

    def shutdown_write(self) -> bool:
        self.sock.shutdown(socket.SHUT_WR)
        return True

    def abort(self) -> None:
        cut(self.sock)


class TlsTransport(SocketTransport):
    """A TLS socket as a session transport, with the same bounds.

    The socket is non-blocking and waits happen in poll(): Python's ssl
    module retries a blocking socket's would-block forever, so the kernel's
    timeouts cannot bound TLS reads and writes.

    One connection's OpenSSL calls never overlap: a handler's thread reads
    while keepalive, shutdown or the handler's other threads write, and
    OpenSSL forbids using one SSL object from two threads at once (it can
    corrupt records or crash the process). A read or a write holds the lock
    only for one non-blocking call; the waits in poll() are outside it.
    """

    __slots__ = ("_read_timeout", "_tls_lock")

    def _setup(self) -> None:
        self._read_timeout: float | None = None
        self._tls_lock = threading.Lock()
        self.sock.setblocking(False)

    def _wait(self, events: int, timeout: float | None, since: float) -> None:
        """Wait until the socket is ready for ``events``; TimeoutError past ``since + timeout``."""
        poller = select.poll()
        poller.register(self.sock.fileno(), events)
        if timeout is None:
            poller.poll()
            return
        left = since + timeout - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise TimeoutError()

    def recv(self, size: int) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        since = time.monotonic()
        while True:
            try:
                with self._tls_lock:
                    return self.sock.recv(size)
            except (ssl.SSLWantReadError, BlockingIOError):  # (plain once shut down)
                events = select.POLLIN
            except ssl.SSLWantWriteError:
                events = select.POLLOUT
            try:
                self._wait(events, self._read_timeout, since)
            except TimeoutError:
                raise TimeoutError("read timed out") from None

    def send(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        since = time.monotonic()
        while view:
            try:
                # After a would-block, OpenSSL wants the same bytes again.
                with self._tls_lock:
                    sent = self.sock.send(view)
            except (ssl.SSLWantWriteError, BlockingIOError):
                events = select.POLLOUT
            except ssl.SSLWantReadError:
                events = select.POLLIN
            else:
                view = view[sent:]
                since = time.monotonic()  # progress restarts the send timeout
                continue
            try:
                self._wait(events, self._send_timeout, since)
            except TimeoutError:
                raise self._send_timed_out() from None

    def sendv(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self.send(chunk)

    def set_timeout(self, timeout: float | None) -> None:
        self._read_timeout = timeout


class _Worker(threading.Thread):
    """A connection thread. Its run() calls the server plainly: Thread.run's
    ``target(*args)`` would start a second C-level interpreter frame, one more
    stack page held by every idle connection (about 4 KiB of RSS each)."""

    def __init__(self, server: ThreadedServer, sock: socket.socket, addr: Address) -> None:
        super().__init__(name="ws-worker", daemon=True)
        self._server = server
        self._first = (sock, addr)

    def run(self) -> None:
        sock, addr = self._first
        del self._first
        self._server._worker(sock, addr)


def read_request(
    sock: socket.socket, options: ServerOptions, since: float | None = None
) -> tuple[RequestHeadReader, HttpRequest | Reject | None]:
    """The reader and its outcome: the request, a refusal, or None when the peer
    closed before a whole head (the reader's ``rest``: bytes past the head).

    The whole head must arrive within ``handshake_timeout`` (slowloris; 408),
    counted from ``since`` (default: now; the wait for an HTTP/2 preface counts);
    the reader applies the size limits and refuses a malformed line (400) as
    soon as it is complete, not when the rest of the head or the timeout comes.
    """
    reader = RequestHeadReader.for_options(options)
    since = time.monotonic() if since is None else since
    deadline = None if options.handshake_timeout is None else since + options.handshake_timeout
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return reader, _HANDSHAKE_TIMEOUT
            sock.settimeout(left)
        try:
            chunk = sock.recv(8192)
        except TimeoutError:
            return reader, _HANDSHAKE_TIMEOUT
        if not chunk:
            return reader, None
        outcome = reader.feed(chunk)
        if outcome is not None:
            return reader, outcome


_HANDSHAKE_TIMEOUT = reject_for(
    HandshakeException("handshake timeout", c.HTTP_STATUS_REQUEST_TIMEOUT)
)


_BIND_HINTS = {
    errno.EADDRINUSE: " (another process listens there: stop it, or pick another port with -p)",
    errno.EACCES: " (ports below 1024 need root or CAP_NET_BIND_SERVICE: pick another with -p)",
}


class _StreamSlots:
    """server/http2.py's StreamSlots: each HTTP/2 stream holds a --max-connections slot."""

    __slots__ = ("_server",)

    def __init__(self, server: ThreadedServer) -> None:
        self._server = server

    def take(self) -> bool:
        return self._server._take_stream_slot()

    def give(self) -> None:
        self._server._give_stream_slot()


class _PortTakenOnAnotherFamily(Exception):
    """Port 0 gave a port another program holds on the other address family."""


def _show(address: Address) -> str:
    host, port = address[0], address[1]
    return f"[{host or '::'}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"


class ThreadedServer:
    """Accepts connections and runs each in its own thread."""

    daemon_threads = True

    def __init__(
        self, options: ServerOptions, dispatcher: Dispatcher | None = None, *, listen: bool = True
    ) -> None:
        """``listen=False`` builds only the per-connection engine (``serve_connection``),
        for a caller that accepts connections itself."""
        self.options = options
        if dispatcher is None:
            dispatcher = Dispatcher.from_options(options, _logger)
        self.dispatcher = dispatcher
        self._serving = False
        self._shutdown_request = False
        self._is_shut_down = threading.Event()
        self._is_shut_down.set()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, LiveSession | None] = {}
        self._h2_streams = 0  # streams open on HTTP/2 connections: they count as connections
        self._work: queue.SimpleQueue[tuple[socket.socket, Address] | None] = queue.SimpleQueue()
        self._idle_workers = 0
        self._sockets: list[tuple[socket.socket, AddrInfo]] = []
        self._stopping = threading.Event()  # ends a backoff pause at shutdown
        self._backoff = 0.0
        self._reserve_fd = _open_reserve()
        self._warn_no_descriptor = _RateLimitedWarning(EXHAUSTION_LOG_INTERVAL)
        self._warn_no_thread = _RateLimitedWarning(EXHAUSTION_LOG_INTERVAL)
        self._tls = build_server_context(options) if options.use_tls else None
        self._http2 = _load_http2() if options.http2 else None
        if self._http2 is not None and self._tls is not None:
            self._http2.configure_alpn(self._tls)
        self.secure = self._tls is not None
        self._cgi_directories = cgi.cgi_directories(options.cgi_paths)
        self.server_port: int = options.port
        if listen:
            self._create_sockets()
        self.server_address = (options.server_host, self.server_port)

    # --- listening sockets ------------------------------------------------------------

    def _create_sockets(self) -> None:
        """Listen on every address of the host ('' : IPv6 and IPv4).

        An address family the machine lacks is skipped; any other failure
        stops the server naming the address and the fix: serving on IPv6 only
        while another process holds the IPv4 port would send half the clients
        elsewhere. With port 0, a port free on one family but taken on the
        other is given up for another.
        """
        for _ in range(5 if self.options.port == 0 else 1):
            try:
                self._bind_all()
                return
            except _PortTakenOnAnotherFamily:
                continue
        raise OSError("could not find a port free on every address; pick one with -p")

    def _bind_all(self) -> None:
        host, port = self.options.server_host, self.options.port
        infos: list[AddrInfo]
        if host:
            # (typeshed adds (int, bytes) for an IPv6 address of a Python built without
            # IPv6 support, which cannot listen on it anyway.)
            infos = socket.getaddrinfo(
                host,
                port,
                socket.AF_UNSPEC,  # type: ignore[assignment]
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
            )
        else:
            infos = [
                (socket.AF_INET6, socket.SOCK_STREAM, 0, "", ("::", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 0, "", ("", port)),
            ]
        skipped = []
        for info in infos:
            family, socktype, _, _, address = info
            try:
                sock = socket.socket(family, socktype)
            except OSError as exc:  # e.g. no IPv6 on this machine
                skipped.append(f"{_show(address)}: {exc.strerror}")
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and self._sockets:
                    address = (address[0], self._sockets[0][0].getsockname()[1], *address[2:])
                sock.bind(address)
                sock.listen(self.options.request_queue_size)
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL) and not host:
                    skipped.append(f"{_show(address)}: {exc.strerror}")
                    continue
                for listening, _ in self._sockets:
                    listening.close()
                self._sockets.clear()
                if port == 0 and exc.errno == errno.EADDRINUSE:
                    raise _PortTakenOnAnotherFamily() from exc
                raise OSError(
                    exc.errno,
                    f"cannot listen on {_show(address)}: {exc.strerror}"
                    f"{_BIND_HINTS.get(exc.errno or 0, '')}",
                ) from None
            _logger.info("listening on %s", _show(sock.getsockname()))
            self._sockets.append((sock, info))
        if not self._sockets:
            raise OSError(f"could not listen on any address: {'; '.join(skipped)}")
        for reason in skipped:
            _logger.info("not listening on %s", reason)
        self.server_port = self._sockets[0][0].getsockname()[1]

    # --- serving ------------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept connections until :meth:`shutdown` is called."""
        self._serving = True
        self._stopping.clear()
        self._is_shut_down.clear()
        if self.options.ping_interval:
            threading.Thread(target=self._keepalive_loop, name="ws-keepalive", daemon=True).start()
        try:
            with selectors.DefaultSelector() as selector:
                for sock, _ in self._sockets:
                    selector.register(sock, selectors.EVENT_READ)
                while not self._shutdown_request:
                    for key, _ in selector.select(poll_interval):
                        if self._shutdown_request:
                            break
                        self._accept(key.fileobj)  # type: ignore[arg-type]
        finally:
            self._serving = False
            self._shutdown_request = False
            self._is_shut_down.set()

    def _keepalive_loop(self) -> None:
        """Ping quiet connections; cut those whose peer stopped answering (1011)."""
        interval = self.options.ping_interval
        assert interval is not None
        timeout = self.options.ping_timeout or interval
        tick = min(interval, timeout) / 4
        while self._serving:
            time.sleep(tick)
            now = time.monotonic()
            with self._lock:
                streams = [s for s in self._connections.values() if s is not None]
            for stream in streams:
                try:
                    alive = stream.keepalive(now, interval, timeout)
                except Exception:  # a broken connection; its own thread reports it
                    continue
                if not alive:
                    _logger.info("keepalive: no answer within %.1fs; closing with 1011", timeout)
                    stream.abort(c.STATUS_INTERNAL_ENDPOINT_ERROR, "keepalive ping timeout")

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, addr = listener.accept()
        except OSError as exc:
            if exc.errno in _EXHAUSTED:
                self._out_of_descriptors(listener, exc)
            return
        if self._reserve_fd is None:  # taken back at EMFILE and not reopened then
            self._reserve_fd = _open_reserve()
        with self._lock:
            full = len(self._connections) + self._h2_streams >= self.options.max_connections
            if not full:
                self._connections[sock] = None
        if full:
            _logger.warning(
                "connection limit (%d) reached; answering 503 to %s",
                self.options.max_connections,
                addr[:2],
            )
            _refuse(sock, "too many connections")
            return
        with self._lock:
            spawn = self._idle_workers == 0
            if not spawn:
                self._idle_workers -= 1  # that worker is claimed by this connection
        if spawn:  # a new worker starts with this connection in hand
            try:
                _Worker(self, sock, addr).start()
            except RuntimeError as exc:  # "can't start new thread": a process or memory limit
                with self._lock:
                    self._connections.pop(sock, None)
                self._warn_no_thread(
                    "cannot start a connection thread (%s); answering 503 and pausing accepts", exc
                )
                _refuse(sock, "server out of threads")
                self._back_off()  # let running connections finish and free their resources
                return
        else:
            self._work.put((sock, addr))
        self._backoff = 0.0

    def _out_of_descriptors(self, listener: socket.socket, exc: OSError) -> None:
        """EMFILE/ENFILE on accept: answer the waiting client 503 if we can, never spin.

        The reserve descriptor, given back for a moment, makes room to accept
        the connection and answer it; without one, accepting pauses instead.
        """
        self._warn_no_descriptor(
            "cannot accept a connection: %s; answering 503 while it lasts", exc.strerror or exc
        )
        answered = False
        if self._reserve_fd is not None:
            os.close(self._reserve_fd)
            self._reserve_fd = None
            try:
                sock, _ = listener.accept()
            except OSError:
                pass
            else:
                _refuse(sock, "server out of file descriptors")
                answered = True
            self._reserve_fd = _open_reserve()
        if not answered:
            self._back_off()

    def _back_off(self) -> None:
        """Pause accepting, doubling the pause up to BACKOFF_MAX while failures go on."""
        self._backoff = min(max(self._backoff * 2, BACKOFF_MIN), BACKOFF_MAX)
        self._stopping.wait(self._backoff)

    def _worker(self, sock: socket.socket, addr: Address) -> None:
        """Serve connections one after another; exit after WORKER_IDLE_SECONDS unused.

        Reusing threads keeps thread creation (and Thread.start's wait for the
        new thread) off the accept path; a burst's extra threads go away soon
        after it.
        """
        self._handle(sock, addr)
        with self._lock:
            self._idle_workers += 1
        while True:
            try:
                item = self._work.get(timeout=WORKER_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle_workers > 0:  # nobody claimed us: leave
                        self._idle_workers -= 1
                        return
                continue  # claimed: the connection is on its way
            if item is None:
                return
            self._handle(item[0], item[1])
            with self._lock:
                self._idle_workers += 1

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it has returned."""
        if self._serving:
            self._shutdown_request = True
            self._stopping.set()
            self._is_shut_down.wait()

    def server_close(self) -> None:
        """Close the listening sockets and let idle workers go."""
        for sock, _ in self._sockets:
            sock.close()
        if self._reserve_fd is not None:
            os.close(self._reserve_fd)
            self._reserve_fd = None
        with self._lock:
            idle, self._idle_workers = self._idle_workers, 0
        for _ in range(idle):
            self._work.put(None)

    def close_connections(
        self, code: int = c.STATUS_GOING_AWAY, grace: float = DEFAULT_SHUTDOWN_GRACE
    ) -> None:
        """Close every open WebSocket with ``code``; return within ``grace`` seconds.

        Nothing here waits on a peer: a Close that cannot be written at once (a
        send under way, or a peer that does not read) is asked for again until
        the grace is nearly over. Then whatever is left is cut, and the rest of
        the grace lets those connections' threads finish (their access lines).
        """
        deadline = time.monotonic() + grace
        reserve = min(CUT_RESERVE + CUT_PER_CONNECTION * self.connection_count(), grace / 2)
        cut_at = deadline - reserve
        settled: set[LiveSession] = set()
        while True:
            with self._lock:
                remaining = len(self._connections)
                streams = [
                    s for s in self._connections.values() if s is not None and s not in settled
                ]
            if not remaining or time.monotonic() >= cut_at:
                break
            for stream in streams:
                try:
                    done = stream.close_nowait(code, "server shutting down")
                except Exception:  # the connection may be failing already
                    done = True
                if done:
                    settled.add(stream)
            time.sleep(SHUTDOWN_POLL)
        with self._lock:
            leftovers = list(self._connections)
        for sock in leftovers:
            cut(sock)
        while self.connection_count() and time.monotonic() < deadline:
            time.sleep(SHUTDOWN_POLL)

    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def _take_stream_slot(self) -> bool:
        """A slot of --max-connections for an HTTP/2 stream; False when all are taken."""
        with self._lock:
            if len(self._connections) + self._h2_streams >= self.options.max_connections:
                return False
            self._h2_streams += 1
            return True

    def _give_stream_slot(self) -> None:
        with self._lock:
            self._h2_streams -= 1

    # --- one connection ---------------------------------------------------------------

    def serve_connection(self, sock: socket.socket, addr: Address) -> None:
        """Serve one accepted connection to its end, in the calling thread."""
        self._handle(sock, addr)

    def _handle(self, sock: socket.socket, addr: Address) -> None:
        started = time.monotonic()
        peer = f"{addr[0]}:{addr[1]}"
        resource = "-"
        result = SessionResult()
        raw: RawConnection | None = None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                # From here on ``sock`` is the TLS socket, so the finally below releases
                # its slot and its descriptor whatever the handshake does.
                sock = self._tls_wrap(sock)
                try:
                    sock.do_handshake()
                except OSError as exc:  # ssl.SSLError included
                    _logger.info("TLS handshake with %s failed: %s", peer, exc)
                    result.error = "TLS handshake failed"
                    return
            # One handshake timeout covers the wait for an HTTP/2 preface and the head.
            since = time.monotonic()
            if self._http2 is not None and self._http2.wants_http2(
                sock, self.options.handshake_timeout
            ):
                resource = "*"
                raw, result.error = self._serve_http2(sock, addr)
                return
            reader, request = read_request(sock, self.options, since)
            if request is None:
                result.error = "closed before the handshake"
                return
            if isinstance(request, Reject) and not reader.complete:
                result.status, result.error = request.status, request.message
                sock.sendall(reject_bytes(request))
                return
            transport_type = TlsTransport if isinstance(sock, ssl.SSLSocket) else SocketTransport
            transport = transport_type(sock, reader.rest, self.options.send_timeout)
            del reader
            # What is left of the handshake (a HyBi 00 key, a CGI body) has the
            # handshake's bound; the session sets the idle timeout after the 101.
            transport.set_timeout(self.options.handshake_timeout)
            raw = RawConnection(transport, addr[:2], sock.getsockname()[:2])
            if isinstance(request, Reject):  # a whole head the reader refused
                send_reject(raw, result, request)
                return
            resource = request.target
            if self.options.use_basic_auth and not auth.is_authorized(
                request.headers, self.options.basic_auth_credential
            ):
                result.status, result.error = 401, "not authorized"
                raw.write(auth.unauthorized_response())
            elif is_websocket_upgrade(request) or c.SEC_WEBSOCKET_KEY_HEADER in request.headers:
                result = self._websocket(request, raw, sock)
            elif (
                cgi.find_script(self.options.document_root, self._cgi_directories, request.target)
                is not None
            ):
                result.status = cgi.run(
                    request,
                    raw,
                    self.options.document_root,
                    self._cgi_directories,
                    self.options.cgi_timeout,
                    self.server_port,
                )
            else:
                result.status = serve_file(self.options.document_root, request, raw, sock)
        except OSError as exc:
            result.error = result.error or f"{type(exc).__name__}: {exc}"
        except Exception:
            _logger.exception("unexpected error on the connection from %s", peer)
            result.error = "internal error"
        finally:
            try:
                sock.close()
            except OSError:
                pass
            log_access(peer, resource, result, started, raw)
            # Last: once no connection is left, every access line is written.
            with self._lock:
                self._connections.pop(sock, None)

    def _tls_wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        """The TLS socket, in the plain one's slot: wrapping takes over its descriptor.

        The handshake that follows runs in this connection's thread, within the
        handshake timeout.
        """
        assert self._tls is not None
        sock.settimeout(self.options.handshake_timeout)
        wrapped = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._lock:
            self._connections.pop(sock, None)
            self._connections[wrapped] = None
        return wrapped

    def _serve_http2(self, sock: socket.socket, addr: Address) -> tuple[RawConnection, str]:
        """An HTTP/2 connection (server/http2.py): each stream logs its own access
        line; the connection's says how many streams it carried."""
        assert self._http2 is not None
        transport_type = TlsTransport if isinstance(sock, ssl.SSLSocket) else SocketTransport
        transport = transport_type(sock, b"", self.options.send_timeout)
        raw = RawConnection(transport, addr[:2], sock.getsockname()[:2])

        def track(session: LiveSession) -> None:
            with self._lock:
                if sock in self._connections:
                    self._connections[sock] = session

        certificate = sock.getpeercert() if self.secure and hasattr(sock, "getpeercert") else None
        session = self._http2.serve(
            sock,
            transport,
            addr,
            self.dispatcher,
            self.options,
            secure=self.secure,
            peer_certificate=certificate,
            on_open=track,
            slots=_StreamSlots(self),
        )
        return raw, f"HTTP/2 connection, {session.stream_count} stream(s)"

    def _websocket(
        self, http: HttpRequest, raw: RawConnection, sock: socket.socket
    ) -> SessionResult:
        def track(stream: Stream) -> None:
            with self._lock:
                if sock in self._connections:
                    self._connections[sock] = stream

        certificate = sock.getpeercert() if self.secure and hasattr(sock, "getpeercert") else None
        result = handle_upgrade(
            http,
            raw,
            self.dispatcher,
            self.options,
            secure=self.secure,
            peer_certificate=certificate,
            on_open=track,
        )
        assert result is not None  # only a driver that declines unknown resources gets None
        return result
