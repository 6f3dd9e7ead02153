"""RFC 6455 5.2 frames as handlers build and read them one at a time.

The connection core (``connection.py``) parses the stream it is fed, as
payloads arrive; this module builds frame bytes, and offers pywebsocket3's
frame-level API (``create_*``, ``Frame``, ``parse_frame``,
``FragmentedFrameBuilder``) with its names and signatures, because
handlers use it to hand-craft frames (often broken ones) and to read single
frames without the message layer's checks.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Protocol

from . import constants
from .errors import BadOperationException, InvalidFrameException
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
    return build_header(
        opcode, payload_length, bool(fin), bool(rsv1), bool(rsv2), bool(rsv3), bool(mask)
    )


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
        raise BadOperationException("Payload data size of control frames must be 125 bytes or less")
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


# --- pywebsocket3's frame-level API (handlers that read and write single frames) --------


class Frame:
    """One frame's fields, as pywebsocket3's ``_receive_frame_as_frame_object`` returns them.

    Fields are ints (0/1) like pywebsocket3's, so handlers can compare them
    with 0 and 1 or use them as booleans.
    """

    __slots__ = ("fin", "opcode", "payload", "rsv1", "rsv2", "rsv3")

    def __init__(
        self,
        fin: int = 1,
        rsv1: int = 0,
        rsv2: int = 0,
        rsv3: int = 0,
        opcode: int | None = None,
        payload: bytes = b"",
    ) -> None:
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.payload = payload

    def __repr__(self) -> str:
        return (
            f"Frame(fin={self.fin}, rsv=({self.rsv1}, {self.rsv2}, {self.rsv3}), "
            f"opcode={self.opcode}, payload={self.payload[:32]!r})"
        )


class LengthEncodingWarning(Protocol):
    """What :func:`parse_frame` may report a non-minimal length encoding to (a logger)."""

    def warning(self, msg: str, *args: object) -> None: ...


def parse_frame(
    receive_bytes: Callable[[int], bytes],
    logger: LengthEncodingWarning | None = None,
    ws_version: int = constants.VERSION_HYBI_LATEST,
    unmask_receive: bool = True,
) -> tuple[int, bytes, int, int, int, int]:
    """Read one frame with ``receive_bytes(n)`` (exactly n bytes, or raise).

    Returns ``(opcode, payload, fin, rsv1, rsv2, rsv3)`` with the payload
    unmasked. Only the framing is checked, as pywebsocket3 does: the MASK bit
    must be what ``unmask_receive`` expects, and a 64-bit length must not
    have its top bit set (RFC 6455 5.2); opcodes, reserved bits and payloads
    are the caller's to judge (frame-level tests look at exactly those).
    """
    first, second = receive_bytes(2)
    fin, rsv1, rsv2, rsv3 = first >> 7 & 1, first >> 6 & 1, first >> 5 & 1, first >> 4 & 1
    opcode = first & 0x0F
    masked = bool(second & 0x80)
    if masked != bool(unmask_receive):
        raise InvalidFrameException(
            "the MASK bit of a received frame does not match what is expected"
        )
    length = second & 0x7F
    minimal = True
    if length == 127:
        length = struct.unpack("!Q", receive_bytes(8))[0]
        if length >> 63:
            raise InvalidFrameException("extended payload length >= 2**63")
        minimal = length >= 0x10000
    elif length == 126:
        length = struct.unpack("!H", receive_bytes(2))[0]
        minimal = length >= 126
    if not minimal and ws_version >= constants.VERSION_HYBI13 and logger is not None:
        logger.warning("payload length %d is not encoded in the minimal number of bytes", length)
    mask = receive_bytes(4) if masked else None
    payload = receive_bytes(length) if length else b""
    if mask is not None:
        payload = apply_mask(payload, mask)
    return opcode, payload, fin, rsv1, rsv2, rsv3


class FragmentedFrameBuilder:
    """Builds the frames of a message sent in pieces (pywebsocket3's class).

    ``build(payload, end, binary)`` returns one frame: the first of a message
    carries its opcode, the rest are continuations; ``end`` finishes it.
    ``frame_filters`` is accepted for compatibility and not applied: the
    extension bits of our frames come from the connection's codec.
    """

    def __init__(self, mask: bool, frame_filters: object = (), encode_utf8: bool = True) -> None:
        self._mask = bool(mask)
        self._encode_utf8 = encode_utf8
        self._started = False
        self._opcode = constants.OPCODE_TEXT

    def build(self, payload_data: bytes | str, end: bool, binary: bool) -> bytes:
        frame_type = constants.OPCODE_BINARY if binary else constants.OPCODE_TEXT
        if self._started:
            if self._opcode != frame_type:
                raise ValueError("Message types are different in frames for the same message")
            opcode = constants.OPCODE_CONTINUATION
        else:
            opcode = self._opcode = frame_type
        self._started = not end
        if isinstance(payload_data, str):
            if binary or not self._encode_utf8:
                raise ValueError("binary frame payloads must be bytes")
            payload = payload_data.encode("utf-8")
        else:
            payload = bytes(payload_data)
        return serialize_frame(opcode, payload, bool(end), mask=self._mask)
