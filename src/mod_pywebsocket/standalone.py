"""The standalone server's command line, and the embedding API test harnesses use.

    python -m mod_pywebsocket.standalone -p 8880 -w example -d example

Flags follow pywebsocket3's (dashed and underscored spellings). Embedding, as
web-platform-tests does::

    options, args = standalone._parse_args_and_config(["-p", "0", "-w", dir])
    server = standalone.WebSocketServer(options)
    port = server._sockets[0][0].getsockname()[1]
    threading.Thread(target=server.serve_forever).start()
    ...
    server.shutdown(); server.server_close()
"""

from __future__ import annotations

import argparse
import atexit
import configparser
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import _mod_pywebsocket_alias

from . import server_util
from .handlers.dispatch import DispatchException
from .options import (
    DEFAULT_CGI_TIMEOUT,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_COMPRESSION_LEVEL,
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_QUEUE_SIZE,
    DEFAULT_SEND_TIMEOUT,
    DEFAULT_SHUTDOWN_GRACE,
    ServerOptions,
)
from .protocol import constants as c
from .protocol.connection import DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE
from .protocol.handshake import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_REQUEST_LINE,
)
from .request_handler import WebSocketRequestHandler  # noqa: F401  (0.7.9 defined it here)
from .server.threaded import THREAD_STACK_SIZE, ThreadedServer
from .server_util import ThreadMonitor

_logger = logging.getLogger("mod_pywebsocket.standalone")

# A signal's shutdown ends within --shutdown-grace (the server's own bound); this
# much later a watchdog ends the process anyway, whatever a thread is stuck in.
SHUTDOWN_WATCHDOG_MARGIN = 2.0

DEFAULT_LOG_MAX_BYTES = 256 * 1024
DEFAULT_LOG_BACKUP_COUNT = 5
LOGLEVEL_FINE = 9  # pywebsocket3's level below DEBUG, "FINE"
logging.addLevelName(LOGLEVEL_FINE, "FINE")
LOG_LEVELS = {"fine": LOGLEVEL_FINE, "debug": logging.DEBUG, "info": logging.INFO,
              "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
              "critical": logging.CRITICAL}


def _optional_seconds(text: str) -> float | None:
    value = float(text)
    return None if value <= 0 else value


def _flag(parser: argparse.ArgumentParser, *names: str, **kwargs: Any) -> None:
    """Add a flag under its dashed names plus the underscored spelling of each long name."""
    spellings = list(names)
    for name in names:
        if name.startswith("--") and "-" in name[2:]:
            spellings.append("--" + name[2:].replace("-", "_"))
    parser.add_argument(*spellings, **kwargs)


def build_option_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mod_pywebsocket",
        description="A WebSocket server that runs *_wsh.py handlers.",
    )
    _flag(p, "--config", dest="config_file", default=None,
          help="INI file with a [pywebsocket] section of long flag names; flags win")
    _flag(p, "-H", "--server-host", dest="server_host", default="",
          help="address to listen on (default: all)")
    _flag(p, "-p", "--port", dest="port", type=int, default=c.DEFAULT_WEB_SOCKET_PORT,
          help="port to listen on; 0 picks a free one")
    _flag(p, "-V", "--validation-host", dest="validation_host", default=None,
          help="host an absolute request target must name")
    _flag(p, "-P", "--validation-port", dest="validation_port", type=int, default=None,
          help="port an absolute request target must name")
    _flag(p, "-w", "--websock-handlers", dest="websock_handlers", default=".",
          help="root directory of *_wsh.py handlers")
    _flag(p, "-m", "--websock-handlers-map-file", dest="websock_handlers_map_file",
          default=None, help="file of 'alias existing' resource lines")
    _flag(p, "-s", "--scan-dir", dest="scan_dir", default=None,
          help="only load handlers under this directory (inside the handler root)")
    _flag(p, "--allow-handlers-outside-root-dir", dest="allow_handlers_outside_root_dir",
          action="store_true", default=False,
          help="load handlers whose real path is outside the handler root")
    _flag(p, "-d", "--document-root", dest="document_root", default=".",
          help="directory of static files served over plain HTTP")
    _flag(p, "-x", "--cgi-paths", dest="cgi_paths", default=None,
          help="comma-separated CGI directories under the document root")
    _flag(p, "--cgi-timeout", dest="cgi_timeout", type=float, default=DEFAULT_CGI_TIMEOUT,
          help="seconds a CGI script may run before it is killed (504)")
    _flag(p, "-t", "--tls", dest="use_tls", action="store_true", default=False,
          help="serve TLS (wss://)")
    _flag(p, "-k", "--private-key", dest="private_key", default="", help="TLS private key file")
    _flag(p, "-c", "--certificate", dest="certificate", default="", help="TLS certificate file")
    _flag(p, "--tls-client-auth", dest="tls_client_auth", action="store_true", default=False,
          help="ask clients for a TLS certificate")
    _flag(p, "--tls-client-cert-optional", dest="tls_client_cert_optional",
          action="store_true", default=False, help="accept clients without a certificate")
    _flag(p, "--tls-client-ca", dest="tls_client_ca", default="",
          help="PEM file of CA certificates that client certificates must chain to")
    _flag(p, "--basic-auth", dest="use_basic_auth", action="store_true", default=False,
          help="require HTTP Basic authentication")
    _flag(p, "--basic-auth-credential", dest="basic_auth_credential", default="test:test",
          help="user:password for --basic-auth")
    _flag(p, "-l", "--log-file", dest="log_file", default="", help="log file (rotated)")
    _flag(p, "--log-level", dest="log_level", default="warn", choices=sorted(LOG_LEVELS),
          help="log level")
    _flag(p, "--deflate-log-level", dest="deflate_log_level", default="warn",
          choices=sorted(set(LOG_LEVELS) - {"fine"}),
          help="log level of util's _Deflater/_Inflater (handlers' own deflating)")
    _flag(p, "--thread-monitor-interval-in-sec", dest="thread_monitor_interval_in_sec",
          type=int, default=-1, help="log the live threads every N seconds (default: never)")
    _flag(p, "--log-max", dest="log_max", type=int, default=DEFAULT_LOG_MAX_BYTES,
          help="bytes per log file before rotation")
    _flag(p, "--log-count", dest="log_count", type=int, default=DEFAULT_LOG_BACKUP_COUNT,
          help="rotated log files kept")
    _flag(p, "-q", "--queue", dest="request_queue_size", type=int,
          default=DEFAULT_REQUEST_QUEUE_SIZE, help="listen backlog")
    _flag(p, "--handler-encoding", dest="handler_encoding", default=None,
          help="text encoding of handler files (default: UTF-8 / PEP 263 cookie)")
    # Limits and timeouts: our additions.
    _flag(p, "--max-message-size", dest="max_message_size", type=int,
          default=DEFAULT_MAX_MESSAGE_SIZE, help="largest message in bytes (1009 beyond)")
    _flag(p, "--max-frame-size", dest="max_frame_size", type=int,
          default=DEFAULT_MAX_FRAME_SIZE, help="largest frame in bytes (1009 beyond)")
    _flag(p, "--max-request-line", dest="max_request_line", type=int,
          default=DEFAULT_MAX_REQUEST_LINE, help="longest handshake request line (414)")
    _flag(p, "--max-header-bytes", dest="max_header_bytes", type=int,
          default=DEFAULT_MAX_HEADER_BYTES, help="largest handshake header block (431)")
    _flag(p, "--max-header-count", dest="max_header_count", type=int,
          default=DEFAULT_MAX_HEADER_COUNT, help="most handshake header lines (431)")
    _flag(p, "--handshake-timeout", dest="handshake_timeout", type=_optional_seconds,
          default=DEFAULT_HANDSHAKE_TIMEOUT, help="seconds to receive the handshake (0: none)")
    _flag(p, "--close-timeout", dest="close_timeout", type=_optional_seconds,
          default=DEFAULT_CLOSE_TIMEOUT, help="seconds to wait for the peer's Close (0: none)")
    _flag(p, "--send-timeout", dest="send_timeout", type=_optional_seconds,
          default=DEFAULT_SEND_TIMEOUT,
          help="fail a connection whose send makes no progress this long (0: never)")
    _flag(p, "--idle-timeout", dest="idle_timeout", type=_optional_seconds, default=None,
          help="close a connection silent this many seconds with 1001 (default: never)")
    _flag(p, "--ping-interval", dest="ping_interval", type=_optional_seconds, default=None,
          help="ping a connection quiet for this many seconds (default: never)")
    _flag(p, "--ping-timeout", dest="ping_timeout", type=_optional_seconds, default=None,
          help="close with 1011 when nothing arrives this long after a ping "
               "(default: the ping interval)")
    _flag(p, "--max-connections", dest="max_connections", type=int,
          default=DEFAULT_MAX_CONNECTIONS, help="open connections before answering 503")
    _flag(p, "--shutdown-grace", dest="shutdown_grace", type=float,
          default=DEFAULT_SHUTDOWN_GRACE, help="seconds for closing handshakes at shutdown")
    _flag(p, "--allow-hybi00", dest="allow_hybi00", action="store_true", default=False,
          help="accept the obsolete, insecure HyBi 00 (hixie-76) protocol")
    _flag(p, "--no-deflate", dest="enable_deflate", action="store_false", default=True,
          help="decline permessage-deflate on every connection")
    _flag(p, "--compression-level", dest="compression_level", type=int,
          default=DEFAULT_COMPRESSION_LEVEL, help="zlib level for permessage-deflate (0-9)")
    return p


# pywebsocket3's private name, used by embedders.
_build_option_parser = build_option_parser


class UsageError(Exception):
    """A command line or config file the server cannot run with (exit status 1)."""


def _fail(message: str) -> NoReturn:
    """pywebsocket3 logs such errors as CRITICAL and exits with status 1."""
    if logging.getLogger().handlers:
        _logger.critical("%s", message)
    else:  # logging is not set up yet: say it once, on stderr
        print(f"mod_pywebsocket: {message}", file=sys.stderr)
    sys.exit(1)


def _parse_args_and_config(args: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Parse flags, then the --config file beneath them (pywebsocket3's embedding entry).

    As pywebsocket3: an unrecognized argument or an unreadable config file
    exits with status 1 (a bad flag value is argparse's status 2).
    """
    parser = build_option_parser()
    options, rest = parser.parse_known_args(args=args)
    if rest:
        _fail(f"unrecognized arguments: {' '.join(rest)}")
    if options.config_file:
        try:
            config_args = _config_file_args(parser, options.config_file)
        except UsageError as exc:
            _fail(str(exc))
        options, rest = parser.parse_known_args(args=config_args + list(args or sys.argv[1:]))
    return options, rest


def _config_file_args(parser: argparse.ArgumentParser, path: str) -> list[str]:
    """The flags an INI file's [pywebsocket] section stands for."""
    # No interpolation: a value is taken as written ("%" in a password is just "%").
    config = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            config.read_file(f)
    except (OSError, configparser.Error) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    if not config.has_section("pywebsocket"):
        raise UsageError(f"config file {path} has no [pywebsocket] section")
    by_long_name: dict[str, argparse.Action] = {}
    for action in parser._actions:
        for s in action.option_strings:
            if s.startswith("--"):
                by_long_name[s[2:]] = action
    result: list[str] = []
    for key, value in config.items("pywebsocket"):
        if key not in by_long_name:
            raise UsageError(f"config file {path}: unknown key {key!r}")
        action = by_long_name[key]
        flag = "--" + key
        if action.nargs == 0:  # store_true / store_false
            if value.strip().lower() in ("1", "true", "yes", "on"):
                result.append(flag)
        else:
            result += [flag, value]
    return result


# pywebsocket3's standalone took it from server_util too.
configure_logging = server_util.configure_logging


class WebSocketServer(ThreadedServer):
    """The standalone server, built from a parsed options namespace (pywebsocket3 name).

    It keeps the names pywebsocket3's ``socketserver``-based class had:
    ``websocket_server_options`` (the options as given), ``request_queue_size``,
    ``fileno``, ``get_request``, ``handle_error``; binding and listening happen
    in the constructor, so ``server_bind`` and ``server_activate`` have nothing
    left to do.
    """

    allow_reuse_address = True

    def __init__(self, options: Any) -> None:
        self.websocket_server_options = options
        if not isinstance(options, ServerOptions):
            options = ServerOptions.from_namespace(options)
        super().__init__(options)
        self.request_queue_size = options.request_queue_size
        for warning in self.dispatcher.source_warnings():
            _logger.warning("handler problem: %s", warning)

    def server_bind(self) -> None:
        """Done by the constructor (every address is bound there)."""

    def server_activate(self) -> None:
        """Done by the constructor (every socket listens from there)."""

    def fileno(self) -> int:
        """The first listening socket (pywebsocket3 had several too, and answered so)."""
        return self._sockets[0][0].fileno()

    def get_request(self) -> tuple[Any, Any]:
        """Accept one connection on the first listening socket."""
        return self._sockets[0][0].accept()

    def handle_error(self, request: Any, client_address: Any) -> None:
        _logger.exception("error while serving %r", client_address)


def _check_tls_flags(options: argparse.Namespace) -> None:
    """pywebsocket3's start-up checks of the TLS flags (each a status-1 exit)."""
    if options.use_tls:
        if not options.private_key or not options.certificate:
            _fail("To use TLS, specify private_key and certificate.")
        if options.tls_client_cert_optional and not options.tls_client_auth:
            _fail("Client authentication must be enabled to specify tls_client_cert_optional")
    elif options.tls_client_auth or options.tls_client_cert_optional:
        _fail("TLS must be enabled for client authentication.")


def _enter_document_root(options: argparse.Namespace) -> None:
    """pywebsocket3's command line works from the document root: every relative
    path (-w, -s, -m, -c, -k, --tls-client-ca, -l) is relative to -d, and
    with no -w the handlers are the document root's."""
    try:
        os.chdir(options.document_root)
    except OSError as exc:
        _fail(f"cannot use the document root {options.document_root!r}: {exc.strerror}")
    options.document_root = os.getcwd()


def main(argv: Sequence[str] | None = None) -> int:
    options, _ = _parse_args_and_config(argv)
    _enter_document_root(options)
    configure_logging(options)
    _check_tls_flags(options)
    if options.thread_monitor_interval_in_sec > 0:
        ThreadMonitor(options.thread_monitor_interval_in_sec).start()
    shadowed = _mod_pywebsocket_alias.shadowed_distribution()
    if shadowed:
        _logger.warning("%s is installed too: in this server the pywebsocket3 name means "
                        "mod_pywebsocket's modules; other programs get that one", shadowed)
    threading.stack_size(THREAD_STACK_SIZE)
    try:
        server = WebSocketServer(options)
    except (DispatchException, OSError, ValueError) as exc:
        _fail(f"cannot start: {exc}")
    stop_deadline: list[float] = []  # when the shutdown grace ends, once a signal came

    def stop(signum: int, frame: Any) -> None:
        if stop_deadline:  # the second signal: no more waiting
            os.write(2, f"mod_pywebsocket: signal {signum} again: exiting now\n".encode())
            os._exit(128 + signum)
        grace = server.options.shutdown_grace
        stop_deadline.append(time.monotonic() + grace)
        _logger.warning("signal %d: shutting down within %gs (a second signal exits at once)",
                        signum, grace)
        watchdog = threading.Timer(grace + SHUTDOWN_WATCHDOG_MARGIN, _exit_now, (grace,))
        watchdog.daemon = True
        watchdog.start()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    ports = sorted({sock.getsockname()[1] for sock, _ in server._sockets})
    print(f"mod_pywebsocket: serving {len(server.dispatcher.resources())} handler(s) on port "
          f"{', '.join(map(str, ports))}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        grace = server.options.shutdown_grace
        if stop_deadline:  # the grace counts from the signal
            grace = max(0.0, stop_deadline[0] - time.monotonic())
        server.close_connections(c.STATUS_GOING_AWAY, grace)
    if stop_deadline:
        # Everything is closed and logged. Interpreter finalization would now walk
        # every connection thread still alive (0.3 s at 3000, past the grace), so
        # run the exit hooks (logging's flush among them) while the grace lasts,
        # and end the process. Log records are flushed as they are written.
        if time.monotonic() < stop_deadline[0]:
            atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _exit_now(grace: float) -> None:
    """The shutdown's hard bound: whatever still runs, the process ends."""
    os.write(2, f"mod_pywebsocket: shutdown still running {grace:g}s + "
                f"{SHUTDOWN_WATCHDOG_MARGIN:g}s after the signal: exiting now\n".encode())
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
