"""``handshake.hybi``: the RFC 6455 opening handshake over HTTP/1.1 (pywebsocket3 names).

A compatibility face: :class:`Handshaker` binds ``handshake.base``'s shared
steps to HTTP/1.1 (GET, Upgrade, Connection, Sec-WebSocket-Key, the 101)
using the checks and the response of ``protocol/handshake.py``, the ones
the server itself uses.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..protocol import constants as c
from ..protocol.extensions import format_extensions
from ..protocol.handshake import accept_response
from ..protocol.handshake import compute_accept as _compute_accept
from .base import (
    HandshakeException,
    HandshakerBase,
    Stream,
    StreamOptions,
    VersionException,
    get_extension_processor,
    get_mandatory_header,
    parse_token_list,
    validate_mandatory_header,
    validate_subprotocol,
)

__all__ = [
    "HandshakeException",
    "Handshaker",
    "HandshakerBase",
    "Stream",
    "StreamOptions",
    "VersionException",
    "get_extension_processor",
    "get_mandatory_header",
    "parse_token_list",
    "validate_mandatory_header",
    "validate_subprotocol",
    "check_request_line",
    "compute_accept",
    "compute_accept_from_unicode",
    "format_header",
]

# RFC 4648 allows no non-zero padding bits: the character before "==" is A, Q, g or w.
_SEC_WEBSOCKET_KEY_REGEX = re.compile(r"^[+/0-9A-Za-z]{21}[AQgw]==$")


def check_request_line(request: Any) -> None:
    """RFC 6455 4.1: the handshake is a GET over HTTP/1.1."""
    if request.method != "GET":
        raise HandshakeException(f"Method is not GET: {request.method!r}")
    if request.protocol != "HTTP/1.1":
        raise HandshakeException(f"Version is not HTTP/1.1: {request.protocol!r}")


def compute_accept(key: bytes | str) -> bytes:
    """The Sec-WebSocket-Accept value (bytes) for a Sec-WebSocket-Key (bytes)."""
    key_str = key.decode("ascii") if isinstance(key, bytes) else key
    return _compute_accept(key_str).encode("ascii")


def compute_accept_from_unicode(unicode_key: str) -> bytes:
    return compute_accept(unicode_key.encode("utf-8"))


def format_header(name: str, value: str) -> str:
    return f"{name}: {value}\r\n"


class Handshaker(HandshakerBase):
    """The RFC 6455 handshake over HTTP/1.1 on ``request.connection``."""

    def _transform_header(self, header: str) -> str:
        return header

    def _protocol_rfc(self) -> str:
        return "RFC 6455"

    def _validate_connection_header(self) -> None:
        connection = get_mandatory_header(self._request, c.CONNECTION_HEADER)
        try:
            tokens = parse_token_list(connection)
        except HandshakeException as exc:
            raise HandshakeException(f"Failed to parse {c.CONNECTION_HEADER}: {exc}") from None
        if "upgrade" not in [t.lower() for t in tokens]:
            raise HandshakeException(f'{c.CONNECTION_HEADER} header doesn\'t contain "Upgrade"')

    def _validate_request(self) -> None:
        check_request_line(self._request)
        validate_mandatory_header(self._request, c.UPGRADE_HEADER, "websocket")
        self._validate_connection_header()
        get_mandatory_header(self._request, c.HOST_HEADER)

    def _validate_key(self, key: str) -> bytes:
        if "," in key:
            raise HandshakeException(
                f"Request has multiple {c.SEC_WEBSOCKET_KEY_HEADER} header lines or contains "
                f"illegal character ',': {key!r}"
            )
        if _SEC_WEBSOCKET_KEY_REGEX.match(key):
            try:
                decoded = base64.b64decode(key)
            except (binascii.Error, ValueError):
                decoded = b""
            if len(decoded) == 16:
                return decoded
        raise HandshakeException(f"Illegal value for header {c.SEC_WEBSOCKET_KEY_HEADER}: {key!r}")

    def _get_key(self) -> bytes:
        key = get_mandatory_header(self._request, c.SEC_WEBSOCKET_KEY_HEADER)
        self._validate_key(key)
        return key.encode("utf-8")

    def _set_accept(self) -> None:
        self._request._accept = compute_accept(self._get_key())

    def _create_handshake_response(self, accept: bytes) -> str:
        request = self._request
        extensions = format_extensions(request.ws_extensions) if request.ws_extensions else None
        # The server's own 101, so a harness's responses match the server's byte for byte.
        response = accept_response(
            "",
            request.ws_protocol,
            extensions,
            request.extra_headers,
            accept=accept.decode("ascii"),
        )
        return response.decode("utf-8")

    def _send_handshake(self) -> None:
        raw = self._create_handshake_response(self._request._accept)
        self._request.connection.write(raw.encode("utf-8"))
