"""The request object handlers receive (API.md section 3).

It carries mod_python's fields (``uri``, ``headers_in``, ``connection``...) and
the ``ws_*`` fields; handlers may add their own attributes, so it is a plain
object, not a slotted one.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..protocol.handshake import Headers


class MessageStream(Protocol):
    """``request.ws_stream`` as handlers use it (API.md section 4)."""

    def send_message(
        self, message: str | bytes, end: bool = True, binary: bool = False
    ) -> None: ...

    def receive_message(self) -> str | bytes | None: ...

    def close_connection(
        self, code: int | None = 1000, reason: str = "", wait_response: bool = True
    ) -> None: ...

    def send_ping(self, body: bytes | str = b"", binary: bool = False) -> None: ...

    def get_last_received_opcode(self) -> int | None: ...

    def receive_bytes(self, length: int) -> bytes: ...


class Termination(Protocol):
    """Where ``client_terminated`` and ``server_terminated`` come from once the
    WebSocket is open: the session's stream, over its protocol core's state."""

    @property
    def client_terminated(self) -> bool: ...

    @property
    def server_terminated(self) -> bool: ...

    def mark_client_terminated(self) -> None: ...

    def mark_server_terminated(self) -> None: ...


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
        self.ws_stream: MessageStream | None = None
        self.ws_close_code: int | None = None
        self.ws_close_reason: str | None = None
        # client_terminated / server_terminated: see the properties below.
        self._termination: Termination | None = None
        self._client_terminated = False
        self._server_terminated = False
        self.on_ping_handler: Any = None
        self.on_pong_handler: Any = None
        # TLS: the verified peer certificate (ssl.SSLSocket.getpeercert()), if any.
        self.peer_certificate: Any = None

    ws_location: str  # set by the HyBi 00 handshake only

    def attach_termination(self, termination: Termination) -> None:
        """From the 101 on, the two flags are views of the session's state."""
        self._termination = termination

    @property
    def client_terminated(self) -> bool:
        """True once the peer's Close was handed to the handler (or the handler says so)."""
        termination = self._termination
        return self._client_terminated if termination is None else termination.client_terminated

    @client_terminated.setter
    def client_terminated(self, value: bool) -> None:
        # Handlers set it after reading the peer's Close themselves (WebKit's
        # client-close-2); clearing it once the Close came changes nothing.
        termination = self._termination
        if termination is None:
            self._client_terminated = bool(value)
        elif value:
            termination.mark_client_terminated()

    @property
    def server_terminated(self) -> bool:
        """True once our Close left (or the handler sent its own and says so)."""
        termination = self._termination
        return self._server_terminated if termination is None else termination.server_terminated

    @server_terminated.setter
    def server_terminated(self, value: bool) -> None:
        # Handlers set it after writing a hand-made Close (Chromium's client-close).
        termination = self._termination
        if termination is None:
            self._server_terminated = bool(value)
        elif value:
            termination.mark_server_terminated()

    def is_https(self) -> bool:
        return self._secure

    def get_uri(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"
