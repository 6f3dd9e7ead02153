"""RFC 6455 5.2 frame headers: building them, and the frame builders handlers use.

Parsing lives in ``connection.py``, which reads headers and payloads as they
stream in; this module only builds bytes. The builders at the bottom keep
pywebsocket3's names and signatures because handlers call them to hand-craft
frames (often broken ones) for ``request.connection.write``.
"""

from __future__ import annotations

import os
import struct

from . import constants
from .errors import BadOperationException
from .masking import apply_mask

_PACK_H = struct.Struct("!BBH").pack
_PACK_Q = struct.Struct("!BBQ").pack


def build_header(
    opcode: int,
    length: int,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    masked: bool = False,
) -> bytes:
    """The 2-10 byte header of a frame (without the masking key)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0)
    first |= (0x10 if rsv3 else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return bytes((first, mask_bit | length))
    if length < 0x10000:
        return _PACK_H(first, mask_bit | 126, length)
    return _PACK_Q(first, mask_bit | 127, length)


def serialize_frame(
    opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False, mask: bool = False
) -> bytes:
    """A whole frame; masked with a random key when ``mask`` (client side)."""
    header = build_header(opcode, len(payload), fin, rsv1, masked=mask)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + apply_mask(payload, key)


def closing_handshake_body(code: int | None, reason: str | bytes = "") -> bytes:
    """The body of a Close frame; ``code=None`` gives an empty body (RFC 6455 5.5.1)."""
    if code is None:
        return b""
    if not constants.is_sendable_close_code(code):
        raise BadOperationException(f"close code {code} may not be sent")
    encoded = reason.encode("utf-8") if isinstance(reason, str) else bytes(reason)
    body = struct.pack("!H", code) + encoded
    if len(body) > constants.MAX_CONTROL_PAYLOAD:
        raise BadOperationException("close reason is longer than 123 bytes")
    return body


# --- pywebsocket3-compatible builders (API.md section 6) -----------------------------


def create_length_header(length: int, mask: bool) -> bytes:
    """The length byte(s) of a header with the MASK bit set as asked."""
    if length < 0:
        raise ValueError("length must be non negative integer")
    if length >= 1 << 63:
        raise ValueError("Payload is too big for one frame")
    return build_header(0, length, masked=bool(mask))[1:]


def create_header(
    opcode: int, payload_length: int, fin: int, rsv1: int, rsv2: int, rsv3: int, mask: bool
) -> bytes:
    """A frame header from its fields; fields are 0/1 like pywebsocket3's."""
    if not 0 <= opcode <= 0xF:
        raise ValueError("Opcode out of range")
    if not 0 <= payload_length < 1 << 63:
        raise ValueError("payload_length out of range")
    if (fin | rsv1 | rsv2 | rsv3) & ~1:
        raise ValueError("FIN bit and Reserved bit parameter must be 0 or 1")
    return build_header(opcode, payload_length, bool(fin), bool(rsv1), bool(rsv2), bool(rsv3),
                        bool(mask))


def create_binary_frame(
    message: bytes,
    opcode: int = constants.OPCODE_BINARY,
    fin: int = 1,
    mask: bool = False,
    frame_filters: object = (),
) -> bytes:
    """A binary (or any data opcode) frame with no extension bits."""
    return serialize_frame(opcode, bytes(message), bool(fin), mask=bool(mask))


def create_text_frame(
    message: str,
    opcode: int = constants.OPCODE_TEXT,
    fin: int = 1,
    mask: bool = False,
    frame_filters: object = (),
) -> bytes:
    """A text frame: ``message`` is encoded as UTF-8."""
    return create_binary_frame(message.encode("utf-8"), opcode, fin, mask)


def _create_control_frame(opcode: int, body: bytes | str, mask: bool) -> bytes:
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(payload) > constants.MAX_CONTROL_PAYLOAD:
        raise BadOperationException(
            "Payload data size of control frames must be 125 bytes or less"
        )
    return serialize_frame(opcode, payload, mask=bool(mask))


def create_ping_frame(body: bytes | str, mask: bool = False, frame_filters: object = ()) -> bytes:
    return _create_control_frame(constants.OPCODE_PING, body, mask)


def create_pong_frame(body: bytes | str, mask: bool = False, frame_filters: object = ()) -> bytes:
    return _create_control_frame(constants.OPCODE_PONG, body, mask)


def create_close_frame(body: bytes, mask: bool = False, frame_filters: object = ()) -> bytes:
    return _create_control_frame(constants.OPCODE_CLOSE, body, mask)


def create_closing_handshake_body(code: int | None, reason: str) -> bytes:
    """pywebsocket3's name for :func:`closing_handshake_body`."""
    return closing_handshake_body(code, reason)
