"""``handshake.hybi00``: mod_pywebsocket 0.7.9's HyBi 00 (hixie-76) handshaker.

A compatibility face over ``protocol/hybi00.py``, the checks and the 101 the
server itself uses behind ``--allow-hybi00``: :class:`Handshaker` validates
the request on a mod_python-like ``request``, reads the 8-byte key that
follows its head from ``request.connection``, runs the handler's extra
handshake and writes the response, leaving a :class:`stream.StreamHixie75`
in ``request.ws_stream``. HyBi 00 is obsolete and insecure; the server never
uses this module itself.
"""

from __future__ import annotations

from typing import Any

from ..protocol import constants as c
from ..protocol import hybi00 as _hybi00
from ..stream import StreamHixie75
from .base import (
    HandshakeException,
    get_default_port,
    get_mandatory_header,
    parse_host_header,
    validate_mandatory_header,
)
from .hybi import check_request_line, format_header

__all__ = [
    "HandshakeException",
    "Handshaker",
    "StreamHixie75",
    "check_request_line",
    "format_header",
    "get_default_port",
    "get_mandatory_header",
    "parse_host_header",
    "validate_mandatory_header",
]


def _read_key3(connection: Any) -> bytes:
    key3 = b""
    while len(key3) < 8:
        data = connection.read(8 - len(key3))
        if not data:
            raise HandshakeException("the connection ended before the 8-byte key")
        key3 += data
    return key3


class Handshaker:
    """The HyBi 00 opening handshake (draft-ietf-hybi-thewebsocketprotocol-00)."""

    def __init__(self, request: Any, dispatcher: Any) -> None:
        self._request = request
        self._dispatcher = dispatcher

    def do_handshake(self) -> None:
        """Validate, run the extra handshake, respond; raises HandshakeException (400)."""
        request = self._request
        local = getattr(request.connection, "local_addr", None)
        key3 = _read_key3(request.connection)
        handshake = _hybi00.validate_request(
            request.method,
            request.uri,
            request.headers_in.get,
            key3,
            secure=request.is_https(),
            server_port=local[1] if local else None,
            http_version=getattr(request, "protocol", "HTTP/1.1"),
        )
        request.ws_resource = request.uri
        request.ws_protocol = handshake.protocol
        request.ws_requested_protocols = [handshake.protocol] if handshake.protocol else None
        request.ws_location = handshake.location
        request.ws_origin = handshake.origin
        request.ws_challenge_md5 = handshake.challenge_response
        request.ws_version = c.VERSION_HYBI00
        request.ws_stream = StreamHixie75(request, True)
        request.extra_headers = []
        self._dispatcher.do_extra_handshake(request)
        request.connection.write(
            _hybi00.build_response(
                request.ws_origin,
                request.ws_location,
                request.ws_protocol,
                handshake.challenge_response,
                request.extra_headers,
            )
        )
