"""Constants handlers import as ``common`` (API.md section 6); their home is protocol.constants.

A compatibility face: it also carries every name pywebsocket3 4.0.2's and
mod_pywebsocket 0.7.9's ``common`` had, the extension header helpers among
them. ``ExtensionParameter`` is the protocol core's class itself, so offers a
handler builds and the ones the server parsed are one type.
"""

from __future__ import annotations

import re

from .protocol.constants import *  # noqa: F403
from .protocol.constants import (
    STATUS_ABNORMAL_CLOSURE,
    STATUS_INVALID_FRAME_PAYLOAD_DATA,
    STATUS_MANDATORY_EXTENSION,
    STATUS_NO_STATUS_RECEIVED,
    STATUS_NORMAL_CLOSURE,
    STATUS_UNSUPPORTED_DATA,
    VERSION_HYBI08,
    VERSION_HYBI13,
    WEB_SOCKET_SCHEME,
    WEB_SOCKET_SECURE_SCHEME,
)
from .protocol.errors import HandshakeException
from .protocol.extensions import ExtensionParameter
from .protocol.extensions import format_extension as format_extension
from .protocol.extensions import format_extensions as format_extensions
from .protocol.extensions import parse_extensions as _parse_extensions

# Older names that handlers still use.
STATUS_NORMAL = STATUS_NORMAL_CLOSURE
STATUS_UNSUPPORTED = STATUS_UNSUPPORTED_DATA
STATUS_CODE_NOT_AVAILABLE = STATUS_NO_STATUS_RECEIVED
STATUS_ABNORMAL_CLOSE = STATUS_ABNORMAL_CLOSURE
STATUS_INVALID_FRAME_PAYLOAD = STATUS_INVALID_FRAME_PAYLOAD_DATA
STATUS_MANDATORY_EXT = STATUS_MANDATORY_EXTENSION

# pywebsocket3 names for header values (both spellings exist in handlers).
WEBSOCKET_SCHEME = WEB_SOCKET_SCHEME
WEBSOCKET_SECURE_SCHEME = WEB_SOCKET_SECURE_SCHEME

# The level pywebsocket's --log-level fine stands for (server_util registers its name).
LOGLEVEL_FINE = 9

# Draft numbers as versions: each HyBi draft speaks the Sec-WebSocket-Version it
# introduced (drafts 09-12 kept 8, 14-17 kept 13); hixie-75 had none (-1).
VERSION_HIXIE75 = -1
VERSION_HYBI01 = 1
VERSION_HYBI02 = 2
VERSION_HYBI03 = 2
VERSION_HYBI04 = 4
VERSION_HYBI05 = 5
VERSION_HYBI06 = 6
VERSION_HYBI07 = 7
VERSION_HYBI09 = VERSION_HYBI08
VERSION_HYBI10 = VERSION_HYBI08
VERSION_HYBI11 = VERSION_HYBI08
VERSION_HYBI12 = VERSION_HYBI08
VERSION_HYBI14 = VERSION_HYBI13
VERSION_HYBI15 = VERSION_HYBI13
VERSION_HYBI16 = VERSION_HYBI13
VERSION_HYBI17 = VERSION_HYBI13

# Extension names of 0.7.9's era; only permessage-deflate is negotiated today.
# (the others of 0.7.9 live in protocol.constants, which the extensions face uses too)
DEFLATE_STREAM_EXTENSION = "deflate-stream"

_FOLDING = re.compile(r"\r\n(?=[ \t])")


def is_control_opcode(opcode: int) -> bool:
    """RFC 6455 5.5: opcodes 0x8-0xF are control frames."""
    return (opcode >> 3) == 1


class ExtensionParsingException(Exception):
    """A Sec-WebSocket-Extensions value that does not parse."""

    def __init__(self, name: str) -> None:
        super().__init__(name)


def parse_extensions(data: str, allow_quoted_string: bool = True) -> list[ExtensionParameter]:
    """The offers in a Sec-WebSocket-Extensions value; ExtensionParsingException if malformed.

    The protocol core's parser does the work. As in the reference, a value
    with no extension at all is an error. A parameter value may be a
    quoted-string (pywebsocket3 always allowed it; 0.7.9 only with
    ``allow_quoted_string``, whose default here is pywebsocket3's behaviour),
    but, unlike pywebsocket3, its text must be a token once unquoted
    (RFC 6455 9.1).
    """
    if not allow_quoted_string and '"' in data:
        raise ExtensionParsingException(
            f"quoted-string parameter values are not allowed: {data[:200]!r}"
        )
    try:
        # RFC 2616 2.2: a CRLF followed by a space or tab is folding whitespace.
        extensions = _parse_extensions(_FOLDING.sub("", data))
    except HandshakeException as exc:
        raise ExtensionParsingException(str(exc)) from None
    if not extensions:
        raise ExtensionParsingException("No valid extension entry found")
    return extensions
