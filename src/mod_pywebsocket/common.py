"""Constants handlers import as ``common`` (API.md section 6); their home is protocol.constants."""

from __future__ import annotations

from .protocol.constants import *  # noqa: F403
from .protocol.constants import (
    STATUS_ABNORMAL_CLOSURE,
    STATUS_INVALID_FRAME_PAYLOAD_DATA,
    STATUS_MANDATORY_EXTENSION,
    STATUS_NO_STATUS_RECEIVED,
    STATUS_NORMAL_CLOSURE,
    STATUS_UNSUPPORTED_DATA,
)

# Older names that handlers still use.
STATUS_NORMAL = STATUS_NORMAL_CLOSURE
STATUS_UNSUPPORTED = STATUS_UNSUPPORTED_DATA
STATUS_CODE_NOT_AVAILABLE = STATUS_NO_STATUS_RECEIVED
STATUS_ABNORMAL_CLOSE = STATUS_ABNORMAL_CLOSURE
STATUS_INVALID_FRAME_PAYLOAD = STATUS_INVALID_FRAME_PAYLOAD_DATA
STATUS_MANDATORY_EXT = STATUS_MANDATORY_EXTENSION

# pywebsocket3 names for header values.
WEBSOCKET_SCHEME = "ws"
WEBSOCKET_SECURE_SCHEME = "wss"

# Extension header formatting (web-platform-tests' HTTP/2 handshaker calls it).
from .protocol.extensions import format_extensions  # noqa: E402,F401
