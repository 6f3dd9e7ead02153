"""Protocol facts with one home: opcodes, close codes, versions, header names.

Everything here is a number or a string fixed by RFC 6455, RFC 7692 or the
hixie-76 draft; every other module imports it from here.
"""

from __future__ import annotations

from typing import Final

# RFC 6455 5.2: opcodes.
OPCODE_CONTINUATION: Final = 0x0
OPCODE_TEXT: Final = 0x1
OPCODE_BINARY: Final = 0x2
OPCODE_CLOSE: Final = 0x8
OPCODE_PING: Final = 0x9
OPCODE_PONG: Final = 0xA
DATA_OPCODES: Final = frozenset({OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY})
CONTROL_OPCODES: Final = frozenset({OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG})

# RFC 6455 5.5: control frames carry at most 125 bytes.
MAX_CONTROL_PAYLOAD: Final = 125

# RFC 6455 7.4.1: close codes.
STATUS_NORMAL_CLOSURE: Final = 1000
STATUS_GOING_AWAY: Final = 1001
STATUS_PROTOCOL_ERROR: Final = 1002
STATUS_UNSUPPORTED_DATA: Final = 1003
STATUS_NO_STATUS_RECEIVED: Final = 1005
STATUS_ABNORMAL_CLOSURE: Final = 1006
STATUS_INVALID_FRAME_PAYLOAD_DATA: Final = 1007
STATUS_POLICY_VIOLATION: Final = 1008
STATUS_MESSAGE_TOO_BIG: Final = 1009
STATUS_MANDATORY_EXTENSION: Final = 1010
STATUS_INTERNAL_ENDPOINT_ERROR: Final = 1011
STATUS_SERVICE_RESTART: Final = 1012
STATUS_TRY_AGAIN_LATER: Final = 1013
STATUS_BAD_GATEWAY: Final = 1014
STATUS_TLS_HANDSHAKE: Final = 1015
STATUS_USER_REGISTERED_BASE: Final = 3000
STATUS_USER_REGISTERED_MAX: Final = 3999
STATUS_USER_PRIVATE_BASE: Final = 4000
STATUS_USER_PRIVATE_MAX: Final = 4999

# RFC 6455 7.4.1 / IANA registry: codes a peer may put on the wire.
# 1004, 1005, 1006 and 1015 are reserved and never sent.
_WIRE_CODES_BELOW_3000: Final = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def is_valid_wire_close_code(code: int) -> bool:
    """True when ``code`` may appear in a Close frame on the wire (RFC 6455 7.4)."""
    return code in _WIRE_CODES_BELOW_3000 or 3000 <= code <= 4999


def is_sendable_close_code(code: int) -> bool:
    """True when a handler may ask us to send ``code`` (API.md: 1000-4999, not 1005/1006/1015)."""
    return 1000 <= code <= 4999 and code not in (1005, 1006, 1015)


# RFC 6455 1.3: the GUID appended to Sec-WebSocket-Key.
# bytes, as pywebsocket3 has it: clients hash it with the key bytes (RFC 6455 4.2.2).
WEBSOCKET_ACCEPT_UUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Protocol versions (API.md section 8).
VERSION_HYBI13: Final = 13
VERSION_HYBI08: Final = 8
VERSION_HYBI00: Final = 0
VERSION_HYBI_LATEST: Final = VERSION_HYBI13
SUPPORTED_VERSIONS: Final = (VERSION_HYBI13, VERSION_HYBI08)

# Header names.
UPGRADE_HEADER: Final = "Upgrade"
CONNECTION_HEADER: Final = "Connection"
HOST_HEADER: Final = "Host"
ORIGIN_HEADER: Final = "Origin"
SEC_WEBSOCKET_ORIGIN_HEADER: Final = "Sec-WebSocket-Origin"
SEC_WEBSOCKET_KEY_HEADER: Final = "Sec-WebSocket-Key"
SEC_WEBSOCKET_ACCEPT_HEADER: Final = "Sec-WebSocket-Accept"
SEC_WEBSOCKET_VERSION_HEADER: Final = "Sec-WebSocket-Version"
SEC_WEBSOCKET_PROTOCOL_HEADER: Final = "Sec-WebSocket-Protocol"
SEC_WEBSOCKET_EXTENSIONS_HEADER: Final = "Sec-WebSocket-Extensions"
SEC_WEBSOCKET_KEY1_HEADER: Final = "Sec-WebSocket-Key1"
SEC_WEBSOCKET_KEY2_HEADER: Final = "Sec-WebSocket-Key2"
SEC_WEBSOCKET_LOCATION_HEADER: Final = "Sec-WebSocket-Location"
SEC_WEBSOCKET_DRAFT_HEADER: Final = "Sec-WebSocket-Draft"
WEBSOCKET_UPGRADE_TYPE: Final = "websocket"
UPGRADE_CONNECTION_TYPE: Final = "Upgrade"  # the Connection header's value
# hixie-76 / HyBi 00: the Upgrade value, spelled as the draft's 101 response spells it.
WEBSOCKET_UPGRADE_TYPE_HIXIE75: Final = "WebSocket"

PERMESSAGE_DEFLATE_EXTENSION: Final = "permessage-deflate"
# Draft extensions of mod_pywebsocket 0.7.9, kept as names; none is agreed.
DEFLATE_FRAME_EXTENSION: Final = "deflate-frame"
X_WEBKIT_DEFLATE_FRAME_EXTENSION: Final = "x-webkit-deflate-frame"
PERFRAME_COMPRESSION_EXTENSION: Final = "perframe-compress"
PERMESSAGE_COMPRESSION_EXTENSION: Final = "permessage-compress"
X_WEBKIT_PERMESSAGE_COMPRESSION_EXTENSION: Final = "x-webkit-permessage-compress"
MUX_EXTENSION: Final = "mux_DO_NOT_USE"

# HTTP statuses used by the handshake.
HTTP_STATUS_BAD_REQUEST: Final = 400
HTTP_STATUS_UNAUTHORIZED: Final = 401
HTTP_STATUS_FORBIDDEN: Final = 403
HTTP_STATUS_NOT_FOUND: Final = 404
HTTP_STATUS_METHOD_NOT_ALLOWED: Final = 405
HTTP_STATUS_REQUEST_TIMEOUT: Final = 408
HTTP_STATUS_URI_TOO_LONG: Final = 414
HTTP_STATUS_HEADERS_TOO_LARGE: Final = 431
HTTP_STATUS_INTERNAL_SERVER_ERROR: Final = 500
HTTP_STATUS_SERVICE_UNAVAILABLE: Final = 503

# RFC 6455 3: URI schemes.
WEB_SOCKET_SCHEME: Final = "ws"
WEB_SOCKET_SECURE_SCHEME: Final = "wss"

DEFAULT_WEB_SOCKET_PORT: Final = 80
DEFAULT_WEB_SOCKET_SECURE_PORT: Final = 443

# RFC 7230 3.2.6 (RFC 2616 2.2: CHAR minus CTLs and separators): the characters of a token.
HTTP_TOKEN_CHARS: Final = (
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
