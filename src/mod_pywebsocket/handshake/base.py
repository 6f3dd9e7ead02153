"""``handshake.base``: pywebsocket3's opening-handshake skeleton, for harnesses.

A compatibility face. web-platform-tests subclasses :class:`HandshakerBase`
for WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220), overriding
``_validate_request``, ``_set_accept``, ``_send_handshake``,
``_transform_header`` and ``_protocol_rfc``; ``do_handshake`` runs the
version-independent steps (version, origin, subprotocols, extensions, the
handler's extra handshake) with this server's own checks and leaves a
:class:`stream.Stream` over the request's connection in ``request.ws_stream``.
"""

from __future__ import annotations

import logging
from typing import Any

from ..extensions import get_extension_processor
from ..protocol import constants as c
from ..protocol import deflate
from ..protocol.errors import AbortedByUserException, HandshakeException, VersionException
from ..protocol.extensions import ExtensionProcessorInterface, parse_extensions
from ..protocol.handshake import SUPPORTED_VERSIONS_HEADER
from ..protocol.handshake import parse_token_list as _parse_token_list
from ..protocol.tokens import is_token
from ..stream import Stream, StreamOptions

__all__ = [
    "AbortedByUserException",
    "HandshakeException",
    "HandshakerBase",
    "Stream",
    "StreamOptions",
    "VersionException",
    "get_extension_processor",
    "get_default_port",
    "get_mandatory_header",
    "parse_host_header",
    "parse_token_list",
    "validate_mandatory_header",
    "validate_subprotocol",
]


def get_default_port(is_secure: bool) -> int:
    return c.DEFAULT_WEB_SOCKET_SECURE_PORT if is_secure else c.DEFAULT_WEB_SOCKET_PORT


def validate_subprotocol(subprotocol: str | None) -> None:
    """RFC 6455 4.1: a subprotocol name is one token."""
    if not subprotocol:
        raise HandshakeException("Invalid subprotocol name: empty")
    if not is_token(subprotocol):
        raise HandshakeException(f"Invalid non-token string in subprotocol name: {subprotocol!r}")


def parse_host_header(request: Any) -> tuple[str, int]:
    """(host, port) of the Host header; the port defaults by scheme."""
    host, sep, port = request.headers_in[c.HOST_HEADER].partition(":")
    if not sep:
        return host, get_default_port(request.is_https())
    try:
        return host, int(port)
    except ValueError as exc:
        raise HandshakeException(f"Invalid port number format: {exc!r}") from None


def get_mandatory_header(request: Any, key: str) -> str:
    value = request.headers_in.get(key)
    if value is None:
        raise HandshakeException(f"Header {key} is not defined")
    return value  # type: ignore[no-any-return]


def validate_mandatory_header(
    request: Any, key: str, expected_value: str, fail_status: int | None = None
) -> None:
    value = get_mandatory_header(request, key)
    if value.lower() != expected_value.lower():
        raise HandshakeException(
            f"Expected {expected_value!r} for header {key} but found {value!r} (case-insensitive)",
            status=fail_status,
        )


def parse_token_list(data: str) -> list[str]:
    """The tokens of a ``1#token`` header value (RFC 7230 7)."""
    return _parse_token_list(data)


class HandshakerBase:
    """The steps of an opening handshake every WebSocket binding shares.

    A subclass supplies what depends on the binding: ``_validate_request``
    (method and mandatory headers), ``_set_accept``, ``_send_handshake``,
    ``_transform_header`` (the header name as it appears in
    ``headers_in``) and ``_protocol_rfc``.
    """

    def __init__(self, request: Any, dispatcher: Any) -> None:
        self._logger = logging.getLogger(f"{type(self).__module__}.{type(self).__name__}")
        self._request = request
        self._dispatcher = dispatcher

    # --- what a binding supplies -----------------------------------------------------

    def _protocol_rfc(self) -> str:
        raise AssertionError("subclasses should implement this method")

    def _transform_header(self, header: str) -> str:
        raise AssertionError("subclasses should implement this method")

    def _validate_request(self) -> None:
        raise AssertionError("subclasses should implement this method")

    def _set_accept(self) -> None:
        raise AssertionError("subclasses should implement this method")

    def _send_handshake(self) -> None:
        raise AssertionError("subclasses should implement this method")

    # --- the shared steps ------------------------------------------------------------

    def do_handshake(self) -> None:
        """Validate, run the handler's extra handshake, set up the stream, respond.

        Raises HandshakeException (status 400 unless set), VersionException
        or AbortedByUserException; the caller answers or drops the request.
        """
        request = self._request
        request.ws_close_code = None
        request.ws_close_reason = None
        self._validate_request()
        request.ws_resource = request.uri
        request.ws_version = self._check_version()
        try:
            self._get_origin()
            self._set_protocol()
            self._parse_extensions()
            self._set_accept()
            self._logger.debug("protocol version is %s", self._protocol_rfc())
            request.ws_extension_processors = self._get_extension_processors_requested()
            request.extra_headers = []
            self._dispatcher.do_extra_handshake(request)
            stream_options = StreamOptions()
            self._process_extensions(stream_options)
            request.ws_stream = Stream(request, stream_options)
            if request.ws_requested_protocols is not None:
                if request.ws_protocol is None:
                    raise HandshakeException(
                        "do_extra_handshake must choose one subprotocol from "
                        "ws_requested_protocols and set it to ws_protocol"
                    )
                validate_subprotocol(request.ws_protocol)
            elif request.ws_protocol is not None:
                raise HandshakeException(
                    "ws_protocol must be None when the client didn't request any subprotocol"
                )
            self._send_handshake()
        except HandshakeException as exc:
            if not exc.status:
                exc.status = c.HTTP_STATUS_BAD_REQUEST
            raise

    def _check_version(self) -> int:
        header = self._transform_header(c.SEC_WEBSOCKET_VERSION_HEADER)
        version = get_mandatory_header(self._request, header)
        if version.isdigit() and int(version) in c.SUPPORTED_VERSIONS:
            return int(version)
        if "," in version:
            raise HandshakeException(
                f"Multiple versions ({version!r}) are not allowed for header {header}",
                status=c.HTTP_STATUS_BAD_REQUEST,
            )
        raise VersionException(
            f"Unsupported version {version!r} for header {header}",
            supported_versions=SUPPORTED_VERSIONS_HEADER,
        )

    def _get_origin(self) -> None:
        header = self._transform_header(c.ORIGIN_HEADER)
        self._request.ws_origin = self._request.headers_in.get(header)

    def _set_protocol(self) -> None:
        request = self._request
        request.ws_protocol = None
        value = request.headers_in.get(self._transform_header(c.SEC_WEBSOCKET_PROTOCOL_HEADER))
        request.ws_requested_protocols = None if value is None else parse_token_list(value)

    def _parse_extensions(self) -> None:
        request = self._request
        value = request.headers_in.get(self._transform_header(c.SEC_WEBSOCKET_EXTENSIONS_HEADER))
        if not value:
            request.ws_requested_extensions = None
            return
        try:
            request.ws_requested_extensions = parse_extensions(value)
        except HandshakeException as exc:
            raise HandshakeException(
                f"Failed to parse sec-websocket-extensions header: {exc}"
            ) from None

    def _get_extension_processors_requested(self) -> list[ExtensionProcessorInterface]:
        processors = []
        for offer in self._request.ws_requested_extensions or ():
            processor = get_extension_processor(offer)
            if processor is not None:
                processors.append(processor)
        return processors

    def _process_extensions(self, stream_options: Any) -> None:
        request = self._request
        accepted, _, codec = deflate.negotiate(
            list(request.ws_extension_processors or ()), stream_options
        )
        stream_options.deflate_codec = codec
        request.ws_extensions = accepted or None
        request.ws_deflate = codec is not None
