"""``handshake.hybi``: RFC 6455 handshake helpers handlers import (pywebsocket3 shapes)."""

from __future__ import annotations

from ..protocol.handshake import compute_accept as _compute_accept


def compute_accept(key: bytes | str) -> bytes:
    """The Sec-WebSocket-Accept value (bytes) for a Sec-WebSocket-Key (bytes)."""
    key_str = key.decode("ascii") if isinstance(key, bytes) else key
    return _compute_accept(key_str).encode("ascii")


def compute_accept_from_unicode(unicode_key: str) -> bytes:
    return compute_accept(unicode_key)
