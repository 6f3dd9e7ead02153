"""``request_handler``: pywebsocket3's per-connection request-handler class.

A compatibility face. In pywebsocket3, ``WebSocketRequestHandler`` is the
``socketserver`` handler class its server instantiates for each accepted
connection: construct it and the connection is served. That is what it does
here, with this server's engine: the server's own, or for a caller's
``socketserver`` server one built from its ``websocket_server_options``.
"""

from __future__ import annotations

import http.client
import logging
import os
from typing import Any

from .options import ServerOptions
from .server.threaded import ThreadedServer

__all__ = ["WebSocketRequestHandler"]

_logger = logging.getLogger("mod_pywebsocket.request_handler")


def _engine_for(server: Any) -> ThreadedServer:
    if isinstance(server, ThreadedServer):
        return server
    engine = getattr(server, "_mod_pywebsocket_engine", None)
    if engine is None:
        options = ServerOptions.from_namespace(server.websocket_server_options)
        engine = ThreadedServer(options, listen=False)
        server._mod_pywebsocket_engine = engine
    return engine


class WebSocketRequestHandler:
    """Serves one accepted connection: a WebSocket, a static file or a CGI script."""

    MessageClass = http.client.HTTPMessage

    def __init__(self, request: Any, client_address: Any, server: Any) -> None:
        self.request = request
        self.client_address = client_address
        self.server = server
        self._options = server.websocket_server_options
        self.cgi_directories = list(getattr(self._options, "cgi_directories", None) or [])
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    def setup(self) -> None:
        """Nothing to prepare: the engine reads the request itself."""

    def handle(self) -> None:
        _engine_for(self.server).serve_connection(self.request, self.client_address)

    def finish(self) -> None:
        """The engine has closed the connection."""

    def parse_request(self) -> bool:
        """pywebsocket3 answered WebSocket requests here and returned False, telling
        ``BaseHTTPRequestHandler`` there was nothing left to do; so does this."""
        return False

    def log_request(self, code: object = "-", size: object = "-") -> None:
        _logger.info("%s %s %s", self.client_address, code, size)

    def log_error(self, *args: Any) -> None:
        _logger.warning(
            "%s - %s",
            self.client_address,
            args[0] % args[1:] if len(args) > 1 else args[0] if args else "",
        )

    def is_cgi(self) -> bool:
        """Whether the request names a CGI script (answered by the engine)."""
        return False

    def is_executable(self, path: str) -> bool:
        return os.access(path, os.X_OK)
