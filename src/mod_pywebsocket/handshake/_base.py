"""``handshake._base``: mod_pywebsocket 0.7.9's module of handshake helpers.

A compatibility face over ``handshake.base`` (pywebsocket3 renamed the
module) plus ``build_location``, which older WebKit handlers import to
compute the URL a HyBi 00 response would carry.
"""

from __future__ import annotations

from typing import Any

from ..protocol import hybi00
from .base import (
    AbortedByUserException,
    HandshakeException,
    VersionException,
    get_default_port,
    get_mandatory_header,
    parse_host_header,
    parse_token_list,
    validate_mandatory_header,
    validate_subprotocol,
)
from .hybi import check_request_line, format_header

__all__ = [
    "AbortedByUserException",
    "HandshakeException",
    "VersionException",
    "build_location",
    "check_request_line",
    "format_header",
    "get_default_port",
    "get_mandatory_header",
    "parse_host_header",
    "parse_token_list",
    "validate_mandatory_header",
    "validate_subprotocol",
]


def build_location(request: Any) -> str:
    """``ws[s]://host[:port]/resource`` of a request, from its Host header.

    The port is written only when it is not the scheme's default; a Host
    port that is not the connection's own is an error, as in mod_pywebsocket.
    """
    host = get_mandatory_header(request, "Host")
    local = getattr(request.connection, "local_addr", None)
    return hybi00.build_location(
        host,
        request.unparsed_uri,
        secure=request.is_https(),
        server_port=local[1] if local else None,
    )
