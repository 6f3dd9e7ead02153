"""The RFC 6455 connection state machine, server side, with no I/O.

Feed it the bytes read from the socket with :meth:`Connection.receive_data`; it
returns the events they complete: whole messages (``str`` for text, ``bytes``
for binary), :class:`Ping`, :class:`Pong`, :class:`Close`, or one
:class:`Failure` carrying the exception whose ``close_code`` the driver sends.
Ask it for the bytes of outgoing frames with the ``send_*`` methods.

What must live here: every receive-side check of RFC 6455 (and RFC 7692's RSV1
rule), message assembly, the size limits, and the closing-handshake state.
Payloads are processed as they stream in: a text frame is unmasked and UTF-8
checked chunk by chunk, so invalid data fails before the rest of the frame
arrives (RFC 6455 8.1 "fail fast"), and a huge frame never sits in a buffer.
Small pieces of a message are merged as they arrive, so a message sent as
millions of tiny fragments costs about twice its size, not one object each.
"""

from __future__ import annotations

import os
import struct
from typing import Protocol, TypeVar

from . import constants as c
from .errors import (
    BadOperationException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    UnsupportedFrameException,
)
from .events import Close, Event, Failure, Ping, Pong
from .frames import build_header, closing_handshake_body
from .masking import Assembler, AssemblerType, apply_mask, parse_messages
from .state import CLOSE_RECEIVED, CLOSE_SENT, CLOSED, RECEIVE_CLOSE, SEND_CLOSE, ClosingHandshake
from .utf8 import Utf8Decoder, decode_utf8

_FINAL_CLOSE = 0x80 | c.OPCODE_CLOSE  # FIN, no RSV bit
_OPCODE_CLOSE = c.OPCODE_CLOSE
_UNPACK_H = struct.Struct("!H").unpack_from
_UNPACK_Q = struct.Struct("!Q").unpack_from

# Defaults for the limits; the options layer imports these (one home per fact).
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024

# Pieces of a message (fragments, or the chunks one frame arrives in) shorter than
# this are merged as they arrive; longer ones are kept as they are and joined once.
COALESCE_SIZE = 64 * 1024

# A binary message in one frame of this size or more is unmasked straight into
# the bytes handed to the handler (masking.Assembler, C only): one copy, not
# an unmasking and a join. Allocated when the header arrives, but a page costs
# memory only once payload is written to it; above the upper bound the chunks
# are kept as they come.
BULK_MIN = 64 * 1024
BULK_MAX = 16 * 1024 * 1024

_Piece = TypeVar("_Piece", str, bytes)


def _add_piece(parts: list[_Piece], piece: _Piece) -> None:
    """Append ``piece`` to ``parts``, merging small neighbours.

    A message sent as millions of 2-byte frames must not keep an object (about
    50 bytes) per frame. Neighbours merge while the lower one is at most twice
    the upper and the sum stays within COALESCE_SIZE: small pieces then shrink
    geometrically down the list, so a few dozen at most lie between two large
    ones, and each byte is copied a logarithmic number of times. Pieces of
    COALESCE_SIZE or more are never copied before the final join.
    """
    parts.append(piece)
    while len(parts) > 1:
        lower = parts[-2]
        size = len(parts[-1])
        if len(lower) > 2 * size or len(lower) + size > COALESCE_SIZE:
            return
        upper = parts.pop()
        parts[-1] = lower + upper


class MessageCodec(Protocol):
    """What the connection needs from a negotiated compression extension."""

    compress_outgoing: bool

    def compress(self, data: bytes, final: bool) -> bytes: ...

    def decompress(self, data: bytes, final: bool, max_length: int) -> bytes: ...


_ERRORS = (
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    UnsupportedFrameException,
)


class Connection(ClosingHandshake):
    """One server-side WebSocket connection after the opening handshake.

    Its closing-handshake state (``state``, ``failed``) is
    :class:`state.ClosingHandshake`'s, shared with HyBi 00's core.
    """

    __slots__ = (
        "_control",
        "_decoder",
        "_fin",
        "_in_payload",
        "_mask",
        "_msg_compressed",
        "_msg_opcode",
        "_msg_size",
        "_offset",
        "_opcode",
        "_parts",
        "_assembler",
        "_pending",
        "_remaining",
        "_send_compressed",
        "_send_opcode",
        "_text",
        "codec",
        "max_frame_size",
        "mask_outgoing",
        "max_message_size",
        "require_mask",
    )

    # Runs of small whole messages go through the C run parser, which makes
    # no per-frame calls; a subclass that must see every frame turns it off.
    frame_by_frame = False

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        codec: MessageCodec | None = None,
        require_mask: bool = True,
        mask_outgoing: bool = False,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size
        self.codec = codec
        self.require_mask = require_mask
        # The client side (pywebsocket3's own client builds streams with mask_send).
        self.mask_outgoing = mask_outgoing
        ClosingHandshake.__init__(self)
        # Receive side: a partial header, and the frame being read.
        self._pending = b""
        self._in_payload = False
        self._fin = True
        self._opcode = 0
        self._mask: bytes | None = None
        self._remaining = 0
        self._offset = 0  # bytes of this frame's payload consumed (mask phase)
        self._control = bytearray()
        # The message being assembled.
        self._msg_opcode = 0  # 0: none in progress
        self._msg_compressed = False
        self._msg_size = 0
        self._parts: list[bytes] = []
        self._assembler: AssemblerType | None = None
        self._text: list[str] = []
        self._decoder: Utf8Decoder | None = None
        # Send side.
        self._send_opcode = 0  # opcode of an outgoing fragmented message, 0 when none
        self._send_compressed = False

    # --- receiving ------------------------------------------------------------------------

    def at_message_boundary(self) -> bool:
        """True when no frame or fragmented message is partly received.

        A driver that hands the byte stream to someone else (pywebsocket3's
        frame-level reads) may only do so here.
        """
        return not (self._pending or self._in_payload or self._msg_opcode)

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Process bytes from the peer; returns the events they complete.

        After a Close or a Failure, further bytes are ignored (RFC 6455 5.5.1).
        """
        events: list[Event] = []
        state = self.state
        if state is CLOSE_RECEIVED or state is CLOSED or self.failed is not None:
            return events
        try:
            self._parse(data, events)
        except _ERRORS as exc:
            self.failed = exc
            events.append(Failure(exc))
        return events

    def _parse(self, data: bytes | bytearray | memoryview, events: list[Event]) -> None:
        if self._pending:
            view = memoryview(self._pending + bytes(data))
            self._pending = b""
        else:
            view = memoryview(data)
        pos = 0
        end = len(view)
        fast = parse_messages if self.require_mask and not self.frame_by_frame else None
        fast_limit = min(self.max_frame_size, self.max_message_size)
        while True:
            if not self._in_payload:
                if fast is not None and not self._msg_opcode:
                    # Between messages: the run of small whole messages that
                    # follows, in C (the same events); the frame it stops at
                    # is parsed below.
                    pos = fast(view, pos, fast_limit, events)
                if end - pos < 2:
                    if pos < end:
                        self._pending = bytes(view[pos:])
                    return
                b0 = view[pos]
                b1 = view[pos + 1]
                length = b1 & 0x7F
                if b0 == _FINAL_CLOSE and b1 & 0x80 and length <= 125 and not self.frame_by_frame:
                    # A whole masked Close (a connection's usual last frame): what
                    # the frame path below makes of it, without its bookkeeping.
                    if end - pos < 6 + length:
                        self._pending = bytes(view[pos:])
                        return
                    key = bytes(view[pos + 2 : pos + 6])
                    events.append(
                        self._parse_close(apply_mask(view[pos + 6 : pos + 6 + length], key))
                    )
                    self._transition(RECEIVE_CLOSE)
                    return
                hlen = 2
                if length == 126:
                    hlen = 4
                elif length == 127:
                    hlen = 10
                if b1 & 0x80:
                    hlen += 4
                if end - pos < hlen:
                    self._pending = bytes(view[pos:])
                    return
                if length == 126:
                    length = _UNPACK_H(view, pos + 2)[0]
                elif length == 127:
                    length = _UNPACK_Q(view, pos + 2)[0]
                mask = bytes(view[pos + hlen - 4 : pos + hlen]) if b1 & 0x80 else None
                pos += hlen
                self._start_frame(b0, length, mask)
                if length == 0:
                    self._end_frame(events)
                    if self._opcode == _OPCODE_CLOSE:  # nothing is read after the Close
                        return
                    continue
            n = end - pos
            if n <= 0:
                return
            if n > self._remaining:
                n = self._remaining
            chunk = view[pos : pos + n]
            pos += n
            mask = self._mask
            phase = self._offset & 3
            self._offset += n
            self._remaining -= n
            if self._assembler is not None:
                assert mask is not None
                self._assembler.add(chunk, mask, phase)
            else:
                if mask is not None:
                    if phase:
                        mask = mask[phase:] + mask[:phase]
                    payload = apply_mask(chunk, mask)
                else:
                    payload = bytes(chunk)
                if self._opcode >= 8:
                    self._control += payload
                else:
                    self._data_chunk(payload, self._remaining == 0 and self._fin)
            if self._remaining == 0:
                self._end_frame(events)
                if self._opcode == _OPCODE_CLOSE:
                    return

    def _start_frame(self, b0: int, length: int, mask: bytes | None) -> None:
        """Validate a frame header (RFC 6455 5.2, 5.4, 5.5; RFC 7692 6.1)."""
        opcode = b0 & 0x0F
        fin = bool(b0 & 0x80)
        if b0 & 0x30:
            raise InvalidFrameException("RSV2 or RSV3 set without a negotiated extension")
        if mask is None and self.require_mask:
            raise InvalidFrameException("client frame is not masked (RFC 6455 5.1)")
        if opcode >= 8:
            if opcode not in c.CONTROL_OPCODES:
                raise InvalidFrameException(f"reserved opcode {opcode:#x}")
            if b0 & 0x40:
                raise InvalidFrameException("RSV1 set on a control frame")
            if not fin:
                raise InvalidFrameException("fragmented control frame (RFC 6455 5.5)")
            if length > c.MAX_CONTROL_PAYLOAD:
                raise InvalidFrameException("control frame payload longer than 125 bytes")
            self._control = bytearray()
        else:
            if opcode == c.OPCODE_CONTINUATION:
                if not self._msg_opcode:
                    raise InvalidFrameException("continuation frame without a message to continue")
                if b0 & 0x40:
                    raise InvalidFrameException("RSV1 set on a continuation frame")
            elif opcode in (c.OPCODE_TEXT, c.OPCODE_BINARY):
                if self._msg_opcode:
                    raise InvalidFrameException("new data frame inside a fragmented message")
                compressed = bool(b0 & 0x40)
                if compressed and self.codec is None:
                    raise InvalidFrameException("RSV1 set without a negotiated extension")
                self._msg_opcode = opcode
                self._msg_compressed = compressed
                self._msg_size = 0
            else:
                raise InvalidFrameException(f"reserved opcode {opcode:#x}")
            if length > self.max_frame_size:
                raise MessageTooBigException(
                    f"frame of {length} bytes exceeds the limit of {self.max_frame_size}"
                )
            if not self._msg_compressed and self._msg_size + length > self.max_message_size:
                raise MessageTooBigException(
                    f"message of {self._msg_size + length} bytes exceeds the limit of "
                    f"{self.max_message_size}"
                )
        self._in_payload = True
        self._fin = fin
        self._opcode = opcode
        self._mask = mask
        self._remaining = length
        self._offset = 0
        if (
            opcode == c.OPCODE_BINARY
            and fin
            and mask is not None
            and Assembler is not None
            and BULK_MIN <= length <= BULK_MAX
            and not self._msg_compressed
        ):
            self._assembler = Assembler(length)

    def _data_chunk(self, payload: bytes, last: bool) -> None:
        """Add a chunk of a data frame's payload to the message being assembled."""
        if self._msg_compressed:
            assert self.codec is not None
            payload = self.codec.decompress(payload, last, self.max_message_size - self._msg_size)
            if not payload and not last:
                return
        self._msg_size += len(payload)
        if self._msg_opcode == c.OPCODE_TEXT:
            decoder = self._decoder
            if decoder is None:
                if last and not self._text:  # the whole message in one chunk
                    self._text.append(decode_utf8(payload))
                    return
                decoder = self._decoder = Utf8Decoder()
            _add_piece(self._text, decoder.decode(payload, last))
        else:
            parts = self._parts
            if parts:
                _add_piece(parts, payload)
            else:  # the common case: a whole message, or the first piece of one
                parts.append(payload)

    def _end_frame(self, events: list[Event]) -> None:
        self._in_payload = False
        opcode = self._opcode
        if opcode >= 8:
            self._control_frame(opcode, bytes(self._control), events)
            return
        if not self._fin:
            return
        if self._offset == 0 and (self._msg_compressed or self._msg_opcode == c.OPCODE_TEXT):
            # An empty final frame: flush the decompressor and the UTF-8 decoder.
            self._data_chunk(b"", True)
        message: str | bytes
        if self._msg_opcode == c.OPCODE_TEXT:
            text = self._text
            message = text[0] if len(text) == 1 else "".join(text)
            self._text = []
            self._decoder = None
        elif self._assembler is not None:
            message = self._assembler.result()
            self._assembler = None
        else:
            parts = self._parts
            message = parts[0] if len(parts) == 1 else b"".join(parts)
            self._parts = []
        self._msg_opcode = 0
        events.append(message)

    def _control_frame(self, opcode: int, payload: bytes, events: list[Event]) -> None:
        if opcode == c.OPCODE_PING:
            events.append(Ping(payload))
        elif opcode == c.OPCODE_PONG:
            events.append(Pong(payload))
        else:
            events.append(self._parse_close(payload))
            self._transition(RECEIVE_CLOSE)

    @staticmethod
    def _parse_close(payload: bytes) -> Close:
        """RFC 6455 5.5.1 and 7.4: a Close body is empty or a valid code + UTF-8 reason."""
        if not payload:
            return Close(None, "")
        if len(payload) == 1:
            raise InvalidFrameException("close frame with a 1-byte body")
        code = _UNPACK_H(payload)[0]
        if not c.is_valid_wire_close_code(code):
            raise InvalidFrameException(f"invalid close code {code}")
        return Close(code, decode_utf8(payload[2:]))

    # --- sending --------------------------------------------------------------------------

    def send_data(self, payload: bytes, binary: bool, fin: bool = True) -> tuple[bytes, bytes]:
        """The (header, payload) of a data frame; ``fin=False`` starts or continues a message."""
        state = self.state
        if state is CLOSE_SENT or state is CLOSED:
            raise BadOperationException("cannot send a message after the Close frame")
        opcode = c.OPCODE_BINARY if binary else c.OPCODE_TEXT
        rsv1 = False
        if self._send_opcode:
            if self._send_opcode != opcode:
                raise BadOperationException("message types differ within one fragmented message")
            frame_opcode = c.OPCODE_CONTINUATION
            compressed = self._send_compressed
        else:
            frame_opcode = opcode
            codec = self.codec
            compressed = codec is not None and codec.compress_outgoing
            rsv1 = compressed
        if compressed:
            assert self.codec is not None
            payload = self.codec.compress(payload, fin)
        if fin:
            self._send_opcode = 0
        else:
            self._send_opcode = opcode
            self._send_compressed = compressed
        if self.mask_outgoing:
            return self._masked(frame_opcode, payload, fin, rsv1)
        return build_header(frame_opcode, len(payload), fin, rsv1), payload

    def _masked(
        self, opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False
    ) -> tuple[bytes, bytes]:
        """RFC 6455 5.3: a client's frame, masked with a fresh random key."""
        key = os.urandom(4)
        header = build_header(opcode, len(payload), fin, rsv1, masked=True) + key
        return header, apply_mask(payload, key)

    def _frame_bytes(self, opcode: int, payload: bytes) -> bytes:
        if self.mask_outgoing:
            header, body = self._masked(opcode, payload)
            return header + body
        return build_header(opcode, len(payload)) + payload

    def send_ping(self, payload: bytes) -> bytes:
        if self.close_sent:
            raise BadOperationException("cannot send a Ping after the Close frame")
        return self._control_frame_bytes(c.OPCODE_PING, payload)

    def send_pong(self, payload: bytes) -> bytes:
        """A Pong, allowed after our Close (RFC 6455 5.5.1 forbids only data frames
        then), as pywebsocket3 answers Pings while it waits; and for a Ping that came
        before the peer's Close even when both arrived in one read."""
        return self._control_frame_bytes(c.OPCODE_PONG, payload)

    def _control_frame_bytes(self, opcode: int, payload: bytes) -> bytes:
        if len(payload) > c.MAX_CONTROL_PAYLOAD:
            raise BadOperationException("control frame payload must be 125 bytes or less")
        return self._frame_bytes(opcode, payload)

    def send_close(self, code: int | None = c.STATUS_NORMAL_CLOSURE, reason: str = "") -> bytes:
        """The Close frame; after it no data or control frame may be sent."""
        if self.close_sent:
            raise BadOperationException("the Close frame was already sent")
        body = closing_handshake_body(code, reason)
        self._transition(SEND_CLOSE)
        return self._frame_bytes(c.OPCODE_CLOSE, body)

    def fail(self, code: int, reason: str = "") -> bytes:
        """The Close frame that fails the connection (RFC 6455 7.1.7); b'' if one was sent."""
        if self.close_sent:
            return b""
        # RFC 6455 5.5: the reason fits in 123 bytes; cut at a character boundary.
        reason_bytes = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
        body = closing_handshake_body(code, reason_bytes)
        self._transition(SEND_CLOSE)
        return self._frame_bytes(c.OPCODE_CLOSE, body)
