"""The request object handlers receive (API.md section 3).

It carries mod_python's fields (``uri``, ``headers_in``, ``connection``...) and
the ``ws_*`` fields; handlers may add their own attributes, so it is a plain
object, not a slotted one.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..protocol.handshake import Headers


class RawConnection(Protocol):
    """``request.connection``: raw, unframed socket I/O for handlers."""

    remote_addr: tuple[str, int] | None
    local_addr: tuple[str, int] | None

    def write(self, data: bytes) -> None: ...

    def read(self, length: int) -> bytes: ...


class Request:
    """One WebSocket request, as handlers see it."""

    def __init__(
        self,
        *,
        uri: str,
        method: str,
        headers_in: Headers,
        connection: RawConnection,
        protocol: str = "HTTP/1.1",
        secure: bool = False,
    ) -> None:
        self.uri = uri
        self.unparsed_uri = uri
        self.method = method
        self.protocol = protocol
        self.headers_in = headers_in
        self.connection = connection
        self._secure = secure
        # Before web_socket_do_extra_handshake.
        self.ws_resource = uri
        self.ws_origin: str | None = None
        self.ws_version: int | None = None
        # ws_location exists only on HyBi 00 requests, as in pywebsocket: handlers
        # test hasattr(request, 'ws_location') to tell the protocols apart.
        self.ws_requested_protocols: list[str] | None = None
        self.ws_protocol: str | None = None
        self.ws_requested_extensions: list[Any] | None = None
        self.ws_extension_processors: list[Any] = []
        self.extra_headers: list[tuple[str, str]] = []
        # After the handshake.
        self.ws_extensions: list[Any] | None = None
        self.ws_deflate = False
        self.ws_stream: Any = None
        self.ws_close_code: int | None = None
        self.ws_close_reason: str | None = None
        self.client_terminated = False
        self.server_terminated = False
        self.on_ping_handler: Any = None
        self.on_pong_handler: Any = None
        # TLS: the verified peer certificate (ssl.SSLSocket.getpeercert()), if any.
        self.peer_certificate: Any = None

    ws_location: str  # set by the HyBi 00 handshake only

    def is_https(self) -> bool:
        return self._secure

    def get_uri(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"
