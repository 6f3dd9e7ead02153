"""The Apache driver: mod_python 3.5's connection as a session transport.

Facts this relies on (pinned by tests/apache/test_mod_python_facts.py):
``conn.read(n)`` returns what is available (at least one byte), None at end of
stream, and raises OSError after a reset or Apache's ``Timeout``;
``conn.write`` never raises when the peer is gone but sets ``conn.aborted``;
after a WebSocket the handler must set ``req.assbackwards = 1`` and
``conn.keepalive = AP_CONN_CLOSE`` and return DONE, or Apache writes an HTTP
response into the stream or keeps the socket open.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import stat
import threading
import time
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ..handlers.dispatch import Dispatcher
from ..options import ServerOptions, switch_value
from ..protocol import constants as c
from ..protocol.handshake import Headers, HttpRequest, is_websocket_upgrade
from .session import RawConnection, SessionResult, handle_upgrade, log_access, printable
from .threaded import SocketTransport

_logger = logging.getLogger("mod_pywebsocket.apache")

OPTION_PREFIX = "mod_pywebsocket."


class ModPythonConnection(Protocol):
    """What this driver uses of mod_python's ``conn`` (see the module docstring);
    ``local_addr`` and ``client_addr`` are looked up with getattr."""

    aborted: int
    keepalive: int

    def read(self, size: int) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...


class ModPythonTable(Protocol):
    """mod_python's ``mp_table`` (``headers_in``, ``get_options()``)."""

    def keys(self) -> Iterable[str]: ...

    def items(self) -> Iterable[tuple[str, str]]: ...

    def __getitem__(self, key: str) -> str: ...


class ModPythonRequest(Protocol):
    """What this driver uses of mod_python's ``req``."""

    method: str
    unparsed_uri: str
    protocol: str
    assbackwards: int

    @property
    def headers_in(self) -> ModPythonTable: ...

    @property
    def connection(self) -> ModPythonConnection: ...

    def is_https(self) -> int: ...

    def get_options(self) -> ModPythonTable: ...

    def log_error(self, message: str, level: int) -> None: ...


class ModPythonTransport:
    """mod_python's connection object as a :class:`session.Transport`.

    mod_python's ``conn.read`` and ``conn.write`` allocate from the
    connection's APR pool on every call, so a long WebSocket grows Apache by
    what it writes, and two threads using them at once (one reading while
    another sends, API.md section 4) corrupt that pool now and then: a read
    fails with "Connection read error" or a write vanishes (measured: 3
    sessions in 8,000 whose handler sent from a MessageSender thread).

    So once the server has answered the handshake, this transport reads and
    writes the client socket itself, a duplicate found among the process's
    descriptors by its two addresses; Apache's filters are out of the way,
    which also gives real timeouts and a way to cut the connection. Before
    that first write, reads go through ``conn.read``: bytes the client sent
    with its request (HyBi 00's key) sit in Apache's buffer, and nothing
    else is written yet. After the response a client sends only what comes
    next (RFC 6455 4.1), so Apache's buffer holds nothing then.

    On a TLS connection (mod_ssl owns the bytes) or when the socket cannot be
    found, everything goes through mod_python as before; Apache's ``Timeout``
    bounds reads, and a read error that overlapped a write is retried.
    """

    def __init__(
        self, conn: ModPythonConnection, secure: bool = False, send_timeout: float | None = None
    ) -> None:
        self._conn = conn
        self._timeout: float | None = None
        self._send_timeout = send_timeout
        self._sock = None if secure else _client_socket(conn)
        self._direct: SocketTransport | None = None  # the socket itself, once in use
        self._writes_started = 0
        self._writes_done = 0

    def recv(self, size: int) -> bytes:
        if self._direct is not None:
            return self._direct.recv(size)
        for _ in range(1000):
            before = self._writes_started
            in_flight = before != self._writes_done
            try:
                data = self._conn.read(size)
            except OSError:
                if not (in_flight or self._writes_started != before):
                    return b""  # reset, or Apache's Timeout
                while self._writes_done != self._writes_started:
                    time.sleep(0.001)  # let the overlapping write finish, then read again
                continue
            return data or b""
        return b""

    def _socket_transport(self) -> SocketTransport | None:
        """The standalone server's socket transport over the duplicate, from the first write."""
        if self._direct is None and self._sock is not None:
            self._direct = SocketTransport(self._sock, b"", self._send_timeout)
            self._direct.set_timeout(self._timeout)
        return self._direct

    def send(self, data: bytes | bytearray | memoryview) -> None:
        direct = self._socket_transport()
        if direct is not None:
            direct.send(data)
            return
        conn = self._conn
        if conn.aborted:
            raise OSError("the client connection was aborted")
        self._writes_started += 1
        try:
            conn.write(bytes(data))
        finally:
            self._writes_done += 1
        if conn.aborted:
            raise OSError("the client connection was aborted")

    def sendv(self, chunks: Sequence[bytes]) -> None:
        direct = self._socket_transport()
        if direct is not None:
            direct.sendv(chunks)
        else:
            self.send(b"".join(chunks))

    def set_timeout(self, timeout: float | None) -> None:
        """Bounds reads once the socket is in use; Apache's ``Timeout`` before that."""
        self._timeout = timeout
        if self._direct is not None:
            self._direct.set_timeout(timeout)

    def abort(self) -> None:
        """Cut the connection so a blocked read returns (when the socket is known)."""
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def writable(self) -> bool:
        """Whether a small write would not wait; mod_python alone cannot tell (False)."""
        return self._direct.writable() if self._direct is not None else False

    def shutdown_write(self) -> bool:
        return False  # Apache closes the connection once the handler returns

    def close(self) -> None:
        """Release the duplicate, leaving the socket as Apache set it up: non-blocking,
        with no kernel timeouts (its lingering close relies on both)."""
        sock = self._sock
        if sock is None:
            return
        self._sock = self._direct = None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bytes(16))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, bytes(16))
            sock.setblocking(False)
        except OSError:
            pass
        sock.close()


def _client_socket(conn: ModPythonConnection) -> socket.socket | None:
    """A duplicate of the connection's socket, found by its local and remote addresses."""
    local, remote = _address(conn, "local_addr"), _address(conn, "client_addr")
    if local is None or remote is None:
        return None
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for name in names:
        try:
            fd = int(name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except (ValueError, OSError):
            continue
        try:
            if (
                sock.type == socket.SOCK_STREAM
                and sock.getsockname()[:2] == local
                and (sock.getpeername()[:2] == remote)
            ):
                return sock
        except OSError:
            pass
        sock.close()
    return None


def _convert(field: dataclasses.Field[object], text: str) -> object:
    kind = str(field.type)
    value = text.strip()
    if kind == "bool":
        switch = switch_value(value)
        if switch is None:
            raise ValueError(f"expected On or Off, got {text!r}")
        return switch
    if "None" in kind and value.lower() in ("", "none", "0"):
        return None
    if kind.startswith("int"):
        return int(value)
    if kind.startswith("float"):
        return float(value)
    return value


def options_from_apache(python_options: Mapping[str, str]) -> ServerOptions:
    """ServerOptions from ``PythonOption mod_pywebsocket.<name> <value>`` lines.

    ``handler_root`` is required; ``handler_scan`` is the scan directory; every
    other ServerOptions field is accepted under its own name. A bad value
    raises ValueError naming the option.
    """
    fields = {f.name: f for f in dataclasses.fields(ServerOptions)}
    aliases = {"handler_root": "websock_handlers", "handler_scan": "scan_dir"}
    values: dict[str, object] = {}
    for key, text in python_options.items():
        if not key.startswith(OPTION_PREFIX):
            continue
        name = key[len(OPTION_PREFIX) :]
        field = fields.get(aliases.get(name, name))
        if field is None:
            raise ValueError(f"unknown option {key}")
        try:
            values[field.name] = _convert(field, text)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    if "websock_handlers" not in values:
        raise ValueError(f"{OPTION_PREFIX}handler_root is not set")
    # Each value has its field's type: _convert built it from that field's annotation.
    return ServerOptions(**values)  # type: ignore[arg-type]


class ApacheDriver:
    """Per-process state: the dispatcher for each distinct set of PythonOptions."""

    def __init__(self, apache: types.ModuleType) -> None:
        self._apache = apache
        self._lock = threading.Lock()
        self._configs: dict[frozenset[tuple[str, str]], tuple[ServerOptions, Dispatcher]] = {}
        self._reported: set[frozenset[tuple[str, str]]] = set()

    def _config(self, req: ModPythonRequest) -> tuple[ServerOptions, Dispatcher] | None:
        raw = req.get_options()
        key = frozenset((k, raw[k]) for k in raw.keys() if k.startswith(OPTION_PREFIX))
        with self._lock:
            config = self._configs.get(key)
            if config is not None or key in self._reported:
                return config
            try:
                options = options_from_apache(dict(key))
                dispatcher = Dispatcher.from_options(options, _logger)
            except Exception as exc:
                self._reported.add(key)
                _logger.error("mod_pywebsocket is not serving: bad configuration: %s", exc)
                return None
            self._configs[key] = config = (options, dispatcher)
            return config

    def handle(self, req: ModPythonRequest) -> int:
        apache = self._apache
        headers = Headers(list(req.headers_in.items()))
        http = HttpRequest(req.method, req.unparsed_uri, req.protocol, headers)
        if not (is_websocket_upgrade(http) or c.SEC_WEBSOCKET_KEY_HEADER in headers):
            return int(apache.DECLINED)
        config = self._config(req)
        if config is None:
            return int(apache.DECLINED)
        options, dispatcher = config
        conn = req.connection
        started = time.monotonic()
        secure = bool(req.is_https())
        transport = ModPythonTransport(conn, secure, options.send_timeout)
        raw = RawConnection(transport, _address(conn, "client_addr"), _address(conn, "local_addr"))
        result: SessionResult | None = SessionResult()
        try:
            result = handle_upgrade(
                http, raw, dispatcher, options, secure=secure, decline_unknown=True
            )
        except Exception as exc:  # nothing may escape once bytes were written
            _logger.exception("unexpected error serving %s", printable(http.target))
            assert result is not None
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            transport.close()
        if result is None:
            return int(apache.DECLINED)
        peer = raw.remote_addr
        log_access(f"{peer[0]}:{peer[1]}" if peer else "-", http.target, result, started, raw)
        # Apache must write nothing more and close the connection (see the module docstring).
        req.assbackwards = 1
        conn.keepalive = apache.AP_CONN_CLOSE
        return int(apache.DONE)


def _address(conn: object, name: str) -> tuple[str, int] | None:
    try:
        address = getattr(conn, name)
        return (str(address[0]), int(address[1]))
    except Exception:
        return None


class ApacheLogHandler(logging.Handler):
    """Sends ``logging`` records to Apache's error log at the matching level.

    With a ``request`` (mod_pywebsocket 0.7.9's signature) records go to that
    request's log; ``apache`` is mod_python's module, imported when not given.
    """

    def __init__(
        self, request: ModPythonRequest | None = None, apache: types.ModuleType | None = None
    ) -> None:
        super().__init__()
        if apache is None:
            from mod_python import apache as imported  # type: ignore[import-not-found]

            apache = imported
        assert apache is not None
        self._request = request
        self._apache = apache
        self._levels = [
            (logging.CRITICAL, apache.APLOG_CRIT),
            (logging.ERROR, apache.APLOG_ERR),
            (logging.WARNING, apache.APLOG_WARNING),
            (logging.INFO, apache.APLOG_INFO),
        ]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = next(
                (ap for py, ap in self._levels if record.levelno >= py), self._apache.APLOG_DEBUG
            )
            message = f"mod_pywebsocket: {self.format(record)}"
            if self._request is not None:
                self._request.log_error(message, level)
            else:
                self._apache.log_error(message, level, self._apache.main_server)
        except Exception:
            self.handleError(record)
