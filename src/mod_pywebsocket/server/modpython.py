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
import threading
import time
import types
from collections.abc import Mapping, Sequence
from typing import Any

from ..handlers.dispatch import Dispatcher
from ..options import ServerOptions
from ..protocol import constants as c
from ..protocol.handshake import Headers, HttpRequest, is_websocket_upgrade
from .session import RawConnection, SessionResult, handle_upgrade, log_access, printable

_logger = logging.getLogger("mod_pywebsocket.apache")

OPTION_PREFIX = "mod_pywebsocket."
_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


class ModPythonTransport:
    """mod_python's connection object as a :class:`session.Transport`."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def recv(self, size: int) -> bytes:
        try:
            data = self._conn.read(size)
        except OSError:  # reset, or Apache's Timeout
            return b""
        return data or b""

    def send(self, data: bytes | bytearray | memoryview) -> None:
        conn = self._conn
        if conn.aborted:
            raise OSError("the client connection was aborted")
        conn.write(bytes(data))
        if conn.aborted:
            raise OSError("the client connection was aborted")

    def sendv(self, chunks: Sequence[bytes]) -> None:
        self.send(b"".join(chunks))

    def set_timeout(self, timeout: float | None) -> None:
        """Apache's ``Timeout`` directive governs reads; nothing to set per call."""

    def abort(self) -> None:
        """mod_python offers no way to cut the connection; Apache's Timeout applies."""

    def writable(self) -> bool:
        """mod_python cannot tell whether a write would wait, so never-blocking paths skip it."""
        return False

    def shutdown_write(self) -> bool:
        return False  # Apache closes the connection once the handler returns


def _convert(field: dataclasses.Field[Any], text: str) -> Any:
    kind = str(field.type)
    value = text.strip()
    if kind == "bool":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ValueError(f"expected On or Off, got {text!r}")
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
    values: dict[str, Any] = {}
    for key, text in python_options.items():
        if not key.startswith(OPTION_PREFIX):
            continue
        name = key[len(OPTION_PREFIX):]
        field = fields.get(aliases.get(name, name))
        if field is None:
            raise ValueError(f"unknown option {key}")
        try:
            values[field.name] = _convert(field, text)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    if "websock_handlers" not in values:
        raise ValueError(f"{OPTION_PREFIX}handler_root is not set")
    return ServerOptions(**values)


class ApacheDriver:
    """Per-process state: the dispatcher for each distinct set of PythonOptions."""

    def __init__(self, apache: types.ModuleType) -> None:
        self._apache = apache
        self._lock = threading.Lock()
        self._configs: dict[frozenset[tuple[str, str]], tuple[ServerOptions, Dispatcher]] = {}
        self._reported: set[frozenset[tuple[str, str]]] = set()

    def _config(self, req: Any) -> tuple[ServerOptions, Dispatcher] | None:
        raw = req.get_options()
        key = frozenset((k, raw[k]) for k in raw.keys() if k.startswith(OPTION_PREFIX))
        with self._lock:
            config = self._configs.get(key)
            if config is not None or key in self._reported:
                return config
            try:
                options = options_from_apache(dict(key))
                dispatcher = Dispatcher(options.websock_handlers, options.scan_dir,
                                        options.allow_handlers_outside_root_dir,
                                        options.handler_encoding)
                if options.websock_handlers_map_file:
                    dispatcher.load_alias_file(options.websock_handlers_map_file)
            except Exception as exc:
                self._reported.add(key)
                _logger.error("mod_pywebsocket is not serving: bad configuration: %s", exc)
                return None
            for warning in dispatcher.source_warnings():
                _logger.warning("handler problem: %s", warning)
            self._configs[key] = config = (options, dispatcher)
            return config

    def handle(self, req: Any) -> int:
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
        raw = RawConnection(ModPythonTransport(conn), _address(conn, "client_addr"),
                            _address(conn, "local_addr"))
        result: SessionResult | None = SessionResult()
        try:
            result = handle_upgrade(http, raw, dispatcher, options, secure=bool(req.is_https()),
                                    decline_unknown=True)
        except Exception as exc:  # nothing may escape once bytes were written
            _logger.exception("unexpected error serving %s", printable(http.target))
            assert result is not None
            result.error = f"{type(exc).__name__}: {exc}"
        if result is None:
            return int(apache.DECLINED)
        peer = raw.remote_addr
        log_access(f"{peer[0]}:{peer[1]}" if peer else "-", http.target, result, started, raw)
        # Apache must write nothing more and close the connection (see the module docstring).
        req.assbackwards = 1
        conn.keepalive = apache.AP_CONN_CLOSE
        return int(apache.DONE)


def _address(conn: Any, name: str) -> tuple[str, int] | None:
    try:
        address = getattr(conn, name)
        return (str(address[0]), int(address[1]))
    except Exception:
        return None


class ApacheLogHandler(logging.Handler):
    """Sends ``logging`` records to Apache's error log at the matching level."""

    def __init__(self, apache: types.ModuleType) -> None:
        super().__init__()
        self._apache = apache
        self._levels = [
            (logging.CRITICAL, apache.APLOG_CRIT),
            (logging.ERROR, apache.APLOG_ERR),
            (logging.WARNING, apache.APLOG_WARNING),
            (logging.INFO, apache.APLOG_INFO),
        ]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = next((ap for py, ap in self._levels if record.levelno >= py),
                         self._apache.APLOG_DEBUG)
            self._apache.log_error(f"mod_pywebsocket: {self.format(record)}", level,
                                   self._apache.main_server)
        except Exception:
            self.handleError(record)
