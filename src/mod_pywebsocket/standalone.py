"""The standalone server's command line (pywebsocket3's flags and behaviour).

    mod_pywebsocket -p 8880 -d example
    python -m mod_pywebsocket.standalone -p 8880 -d example

As pywebsocket3's, it runs from the document root (-d), so -w and every other
relative path are relative to it. pywebsocket3's embedding names live here too
(``_parse_args_and_config``, ``WebSocketServer``); new code embeds with
``mod_pywebsocket.Server`` (see embedding.py).
"""

from __future__ import annotations

import argparse
import atexit
import configparser
import dataclasses
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import _mod_pywebsocket_alias

from . import common, server_util
from .handlers.dispatch import DispatchException
from .options import ServerOptions, switch_value
from .protocol import constants as c
from .request_handler import WebSocketRequestHandler  # noqa: F401  (0.7.9 defined it here)
from .server.threaded import THREAD_STACK_SIZE, ThreadedServer
from .server_util import ThreadMonitor

if TYPE_CHECKING:
    from .server.aio import AioServer

_logger = logging.getLogger("mod_pywebsocket.standalone")
ACCESS_LOGGER = "mod_pywebsocket.access"

# A signal's shutdown ends within --shutdown-grace (the server's own bound); this
# much later a watchdog ends the process anyway, whatever a thread is stuck in.
SHUTDOWN_WATCHDOG_MARGIN = 2.0

DEFAULT_LOG_MAX_BYTES = 256 * 1024
DEFAULT_LOG_BACKUP_COUNT = 5
LOGLEVEL_FINE = common.LOGLEVEL_FINE  # registered as "FINE" by configure_logging
LOG_LEVELS = {
    "fine": LOGLEVEL_FINE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _optional_seconds(text: str) -> float | None:
    value = float(text)
    return None if value <= 0 else value


ENGINES = ("threaded", "asyncio")

_FIELDS = {f.name: f for f in dataclasses.fields(ServerOptions)}


def _default(dest: str) -> Any:
    """The default of a server option: ServerOptions has the one home of each."""
    return _FIELDS[dest].default


def _describe(value: object) -> str:
    if value is None or value == "":
        return "none"
    if value is True or value is False:
        return "on" if value else "off"
    return str(value)


class _Flags:
    """Adds flags to a group of the parser: the dashed spellings shown in --help,
    each long name also accepted underscored (pywebsocket3 took both) but not shown."""

    def __init__(self, parser: argparse.ArgumentParser, title: str, description: str = "") -> None:
        self._parser = parser
        self._group = parser.add_argument_group(title, description or None)

    def add(self, *names: str, show_default: bool = True, **kwargs: Any) -> None:
        dest = kwargs["dest"]
        if "default" not in kwargs:
            kwargs["default"] = _default(dest)
        if show_default and kwargs.get("action") not in ("store_true", "store_false"):
            kwargs["help"] = f"{kwargs['help']} (default: {_describe(kwargs['default'])})"
        self._group.add_argument(*names, **kwargs)
        hidden = [
            "--" + n[2:].replace("-", "_") for n in names if n.startswith("--") and "-" in n[2:]
        ]
        if hidden:
            alias = {k: v for k, v in kwargs.items() if k not in ("help", "default", "metavar")}
            self._parser.add_argument(
                *hidden, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **alias
            )


_EPILOG = """examples:
  mod_pywebsocket -p 8880 -d example
      handlers and static files from ./example (-w defaults to -d, as in pywebsocket3)
  mod_pywebsocket -p 443 -d /srv/www -w handlers -t -k key.pem -c cert.pem --log-level info
      wss:// on port 443; handlers in /srv/www/handlers, TLS files in /srv/www
      (relative paths are relative to -d)

Every long flag is also accepted with underscores (--websock_handlers) and as a
key of a --config file's [pywebsocket] section."""


def build_option_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mod_pywebsocket",
        description="A WebSocket server that runs *_wsh.py handlers written for "
        "mod_pywebsocket and pywebsocket3.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version",
        action=_VersionAction,
        nargs=0,
        help="print the version and whether the C speedups are in use, and exit",
    )
    g = _Flags(p, "network")
    g.add(
        "-H",
        "--server-host",
        dest="server_host",
        metavar="HOST",
        help="address to listen on; none: every address, IPv4 and IPv6",
    )
    g.add(
        "-p",
        "--port",
        dest="port",
        type=int,
        metavar="PORT",
        help="port to listen on; 0 picks a free one",
    )
    g.add(
        "--engine",
        dest="engine",
        choices=ENGINES,
        help="threaded: a thread per connection; asyncio: one event loop, async def "
        "handlers on it and blocking ones in threads",
    )
    g.add("-q", "--queue", dest="request_queue_size", type=int, metavar="N", help="listen backlog")
    g.add(
        "-V",
        "--validation-host",
        dest="validation_host",
        metavar="HOST",
        help="host an absolute request target (GET ws://host/x) must name",
    )
    g.add(
        "-P",
        "--validation-port",
        dest="validation_port",
        metavar="PORT",
        type=int,
        help="port an absolute request target must name",
    )
    g.add(
        "--config",
        dest="config_file",
        metavar="FILE",
        default=None,
        help="INI file whose [pywebsocket] keys are long flag names; flags given here win",
    )
    g = _Flags(p, "handlers and files", "Relative paths are relative to -d, as in pywebsocket3.")
    g.add(
        "-d",
        "--document-root",
        dest="document_root",
        metavar="DIR",
        help="directory the server runs from; static files are served from it",
    )
    g.add(
        "-w",
        "--websock-handlers",
        dest="websock_handlers",
        metavar="DIR",
        help="root directory of *_wsh.py handlers ('.': the document root)",
    )
    g.add(
        "-s",
        "--scan-dir",
        dest="scan_dir",
        metavar="DIR",
        help="only load handlers under this directory (inside the handler root)",
    )
    g.add(
        "-m",
        "--websock-handlers-map-file",
        dest="websock_handlers_map_file",
        metavar="FILE",
        help="file of 'alias existing' resource lines",
    )
    g.add(
        "--allow-handlers-outside-root-dir",
        dest="allow_handlers_outside_root_dir",
        action="store_true",
        help="load handlers whose real path is outside the handler root",
    )
    g.add(
        "--handler-encoding",
        dest="handler_encoding",
        metavar="ENCODING",
        help="text encoding of handler files (none: UTF-8 or the file's PEP 263 cookie)",
    )
    g.add(
        "-x",
        "--cgi-paths",
        dest="cgi_paths",
        metavar="PATHS",
        help="comma-separated CGI directories under the document root",
    )
    g.add(
        "--cgi-timeout",
        dest="cgi_timeout",
        metavar="SECONDS",
        type=float,
        help="seconds a CGI script may run before it is killed (504)",
    )
    g = _Flags(p, "TLS")
    g.add("-t", "--tls", dest="use_tls", action="store_true", help="serve TLS (wss://)")
    g.add("-k", "--private-key", dest="private_key", metavar="FILE", help="TLS private key file")
    g.add("-c", "--certificate", dest="certificate", metavar="FILE", help="TLS certificate file")
    g.add(
        "--tls-client-auth",
        dest="tls_client_auth",
        action="store_true",
        help="ask clients for a TLS certificate",
    )
    g.add(
        "--tls-client-cert-optional",
        dest="tls_client_cert_optional",
        action="store_true",
        help="accept clients without a certificate",
    )
    g.add(
        "--tls-client-ca",
        dest="tls_client_ca",
        metavar="FILE",
        help="PEM file of CA certificates that client certificates must chain to",
    )
    g = _Flags(p, "authentication")
    g.add(
        "--basic-auth",
        dest="use_basic_auth",
        action="store_true",
        help="require HTTP Basic authentication",
    )
    g.add(
        "--basic-auth-credential",
        dest="basic_auth_credential",
        metavar="USER:PASSWORD",
        help="user:password for --basic-auth",
    )
    g = _Flags(p, "limits and timeouts", "Seconds; 0 turns a timeout off.")
    g.add(
        "--max-message-size",
        dest="max_message_size",
        metavar="BYTES",
        type=int,
        help="largest message in bytes (Close 1009 beyond)",
    )
    g.add(
        "--max-frame-size",
        dest="max_frame_size",
        metavar="BYTES",
        type=int,
        help="largest frame in bytes (Close 1009 beyond)",
    )
    g.add(
        "--max-request-line",
        dest="max_request_line",
        metavar="BYTES",
        type=int,
        help="longest handshake request line (414 beyond)",
    )
    g.add(
        "--max-header-bytes",
        dest="max_header_bytes",
        metavar="BYTES",
        type=int,
        help="largest handshake header block (431 beyond)",
    )
    g.add(
        "--max-header-count",
        dest="max_header_count",
        metavar="N",
        type=int,
        help="most handshake header lines (431 beyond)",
    )
    g.add(
        "--max-connections",
        dest="max_connections",
        metavar="N",
        type=int,
        help="open connections before answering 503",
    )
    g.add(
        "--handshake-timeout",
        dest="handshake_timeout",
        metavar="SECONDS",
        type=_optional_seconds,
        help="time to receive the request head (408)",
    )
    g.add(
        "--close-timeout",
        dest="close_timeout",
        metavar="SECONDS",
        type=_optional_seconds,
        help="wait for the peer's Close after ours",
    )
    g.add(
        "--send-timeout",
        dest="send_timeout",
        metavar="SECONDS",
        type=_optional_seconds,
        help="a send with no byte going out this long fails its connection",
    )
    g.add(
        "--idle-timeout",
        dest="idle_timeout",
        metavar="SECONDS",
        type=_optional_seconds,
        help="close a connection silent this long with 1001",
    )
    g.add(
        "--ping-interval",
        dest="ping_interval",
        metavar="SECONDS",
        type=_optional_seconds,
        help="ping a connection quiet this long",
    )
    g.add(
        "--ping-timeout",
        dest="ping_timeout",
        metavar="SECONDS",
        type=_optional_seconds,
        help="close with 1011 when nothing arrives this long after a ping "
        "(none: the ping interval)",
    )
    g.add(
        "--shutdown-grace",
        dest="shutdown_grace",
        metavar="SECONDS",
        type=float,
        help="time for closing handshakes after SIGTERM/SIGINT; a second signal exits at once",
    )
    g = _Flags(p, "logging")
    g.add(
        "--log-level",
        dest="log_level",
        metavar="LEVEL",
        default="warn",
        choices=sorted(LOG_LEVELS),
        help="log level; info shows each connection, debug each handshake and frame",
    )
    g.add(
        "--access-log",
        dest="access_log",
        action="store_true",
        default=False,
        help="write the access line of each connection whatever --log-level says",
    )
    g.add("-l", "--log-file", dest="log_file", metavar="FILE", default="", help="log file, rotated")
    g.add(
        "--log-max",
        dest="log_max",
        metavar="BYTES",
        type=int,
        default=DEFAULT_LOG_MAX_BYTES,
        help="bytes per log file before rotation",
    )
    g.add(
        "--log-count",
        dest="log_count",
        metavar="N",
        type=int,
        default=DEFAULT_LOG_BACKUP_COUNT,
        help="rotated log files kept",
    )
    g.add(
        "--deflate-log-level",
        dest="deflate_log_level",
        metavar="LEVEL",
        default="warn",
        choices=sorted(set(LOG_LEVELS) - {"fine"}),
        help="log level of util's _Deflater/_Inflater (handlers that deflate by hand)",
    )
    g.add(
        "--thread-monitor-interval-in-sec",
        dest="thread_monitor_interval_in_sec",
        metavar="SECONDS",
        type=int,
        default=-1,
        help="log the live threads every N seconds (-1: never)",
    )
    g = _Flags(p, "protocol and compatibility")
    g.add(
        "--no-deflate",
        dest="enable_deflate",
        action="store_false",
        help="decline permessage-deflate on every connection",
    )
    g.add(
        "--compression-level",
        dest="compression_level",
        metavar="LEVEL",
        type=int,
        help="zlib level for permessage-deflate, 0-9",
    )
    g.add(
        "--allow-hybi00",
        dest="allow_hybi00",
        action="store_true",
        help="also accept the obsolete, insecure HyBi 00 (hixie-76) protocol",
    )
    g.add(
        "--http2",
        dest="http2",
        action="store_true",
        help="also serve HTTP/2 (RFC 8441 WebSockets): ALPN h2 with TLS, the h2c preface "
        "without; needs the h2 package (pip install 'mod_pywebsocket[http2]')",
    )
    return p


class _VersionAction(argparse.Action):
    """--version, computed only when asked (reading the package metadata costs 40 ms)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``mod_pywebsocket X (C speedups: on|off)``: what --version prints."""
    import mod_pywebsocket

    from .protocol.masking import HAS_SPEEDUPS

    return (
        f"mod_pywebsocket {mod_pywebsocket.__version__} "
        f"(C speedups: {'on' if HAS_SPEEDUPS else 'off'})"
    )


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
    try:
        return parse_flags(args)
    except UsageError as exc:
        _fail(str(exc))


def parse_flags(
    args: Sequence[str] | None, *, exit_on_error: bool = True
) -> tuple[argparse.Namespace, list[str]]:
    """Flags, then the --config file beneath them; UsageError for what the server
    cannot run with. ``exit_on_error=False`` turns a bad flag value into
    UsageError too, instead of argparse's usage message and status 2."""
    parser = build_option_parser()
    parser.exit_on_error = exit_on_error
    try:
        options, rest = parser.parse_known_args(args=args)
        if rest:
            raise UsageError(f"unrecognized arguments: {' '.join(rest)}")
        if options.config_file:
            config_args = _config_file_args(parser, options.config_file)
            options, rest = parser.parse_known_args(
                args=config_args + list(args if args is not None else sys.argv[1:])
            )
    except argparse.ArgumentError as exc:
        raise UsageError(str(exc)) from None
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
            if switch_value(value):  # anything but an on word: the flag is not given
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
        options = ServerOptions.from_namespace(options)
        super().__init__(options)
        self.request_queue_size = options.request_queue_size

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


def server_urls(server: ThreadedServer | AioServer) -> list[str]:
    """``ws://host:port/`` (``wss``) for each address the server listens on."""
    scheme = "wss" if server.secure else "ws"
    urls = []
    for sock, _ in server._sockets:
        host, port = sock.getsockname()[:2]
        urls.append(f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/")
    return urls


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
    if options.access_log:
        # The access logger's own level lets its lines through whatever the root's is.
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
    if options.thread_monitor_interval_in_sec > 0:
        ThreadMonitor(options.thread_monitor_interval_in_sec).start()
    shadowed = _mod_pywebsocket_alias.shadowed_distribution()
    if shadowed:
        _logger.warning(
            "%s is installed too: in this server the pywebsocket3 name means "
            "mod_pywebsocket's modules; other programs get that one",
            shadowed,
        )
    threading.stack_size(THREAD_STACK_SIZE)
    server: WebSocketServer | AioServer
    try:
        if options.engine == "asyncio":
            from .server.aio import AioServer  # asyncio loads only for this engine

            server = AioServer(ServerOptions.from_namespace(options))
        else:
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
        _logger.warning(
            "signal %d: shutting down within %gs (a second signal exits at once)", signum, grace
        )
        watchdog = threading.Timer(grace + SHUTDOWN_WATCHDOG_MARGIN, _exit_now, (grace,))
        watchdog.daemon = True
        watchdog.start()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"mod_pywebsocket: serving {len(server.dispatcher.resources())} handler(s) at "
        f"{', '.join(server_urls(server))} (document root {options.document_root})",
        file=sys.stderr,
        flush=True,
    )
    if options.engine != "asyncio":
        _warn_async_handlers(server)  # after the banner: harnesses read that line first
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


def _warn_async_handlers(server: WebSocketServer | AioServer) -> None:
    """An ``async def web_socket_transfer_data`` runs on the asyncio engine only."""
    dispatcher = server.dispatcher
    for resource in dispatcher.resources():
        suite = dispatcher.get_handler_suite(resource)
        if suite is not None and suite.async_transfer_data:
            _logger.warning(
                "%s: async def web_socket_transfer_data runs on the asyncio engine "
                "only (--engine asyncio); this engine cannot run it",
                resource,
            )


def _exit_now(grace: float) -> None:
    """The shutdown's hard bound: whatever still runs, the process ends."""
    os.write(
        2,
        f"mod_pywebsocket: shutdown still running {grace:g}s + "
        f"{SHUTDOWN_WATCHDOG_MARGIN:g}s after the signal: exiting now\n".encode(),
    )
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
