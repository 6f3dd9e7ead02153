"""A frame-by-frame view of a connection, for debugging (``--log-level debug``).

:class:`TracedConnection` is the RFC 6455 core with one callback per frame in
and out. Drivers build it instead of :class:`Connection` only when someone is
listening, so the ordinary hot path pays nothing. Like the rest of
``protocol/`` it logs nothing itself: the callback decides what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .connection import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    Connection,
    MessageCodec,
)
from .events import Event
from .masking import apply_mask

PREVIEW_BYTES = 32
"""How much of a payload a trace keeps (unmasked, still compressed if it was)."""

_OPCODE_NAMES = {0x0: "CONT", 0x1: "TEXT", 0x2: "BINARY", 0x8: "CLOSE", 0x9: "PING", 0xA: "PONG"}


@dataclass(frozen=True, slots=True)
class FrameTrace:
    """One frame as it crossed the wire."""

    incoming: bool
    opcode: int
    fin: bool
    rsv1: bool
    masked: bool
    length: int
    preview: bytes

    def describe(self) -> str:
        name = _OPCODE_NAMES.get(self.opcode, f"{self.opcode:#x}")
        flags = ",".join(
            flag
            for flag, on in (("FIN", self.fin), ("RSV1", self.rsv1), ("MASK", self.masked))
            if on
        )
        more = "..." if self.length > len(self.preview) else ""
        return (
            f"{'<-' if self.incoming else '->'} {name} {flags or '-'} "
            f"len={self.length} {self.preview!r}{more}"
        )


class TracedConnection(Connection):
    """A :class:`Connection` that reports every complete frame to ``trace``."""

    __slots__ = ("_trace", "_head", "_preview")
    frame_by_frame = True  # the C run parser would parse frames this never sees

    def __init__(
        self,
        trace: Callable[[FrameTrace], None],
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        codec: MessageCodec | None = None,
        require_mask: bool = True,
        mask_outgoing: bool = False,
    ) -> None:
        super().__init__(
            max_message_size=max_message_size,
            max_frame_size=max_frame_size,
            codec=codec,
            require_mask=require_mask,
            mask_outgoing=mask_outgoing,
        )
        self._trace = trace
        self._head = (0, 0, False)
        self._preview = bytearray()

    def _start_frame(self, b0: int, length: int, mask: bytes | None) -> None:
        self._head = (b0, length, mask is not None)
        self._preview = bytearray()
        super()._start_frame(b0, length, mask)

    def _data_chunk(self, payload: bytes, last: bool) -> None:
        room = PREVIEW_BYTES - len(self._preview)
        if room > 0:
            self._preview += payload[:room]
        super()._data_chunk(payload, last)

    def _end_frame(self, events: list[Event]) -> None:
        b0, length, masked = self._head
        opcode = b0 & 0x0F
        preview = self._control[:PREVIEW_BYTES] if opcode >= 8 else self._preview
        self._trace(
            FrameTrace(
                True, opcode, bool(b0 & 0x80), bool(b0 & 0x40), masked, length, bytes(preview)
            )
        )
        super()._end_frame(events)

    def send_data(self, payload: bytes, binary: bool, fin: bool = True) -> tuple[bytes, bytes]:
        header, body = super().send_data(payload, binary, fin)
        preview = body[:PREVIEW_BYTES]
        if self.mask_outgoing:
            preview = apply_mask(preview, header[-4:])
        self._trace(
            FrameTrace(
                False,
                header[0] & 0x0F,
                bool(header[0] & 0x80),
                bool(header[0] & 0x40),
                self.mask_outgoing,
                len(body),
                preview,
            )
        )
        return header, body

    def _frame_bytes(self, opcode: int, payload: bytes) -> bytes:
        self._trace(
            FrameTrace(
                False,
                opcode,
                True,
                False,
                self.mask_outgoing,
                len(payload),
                payload[:PREVIEW_BYTES],
            )
        )
        return super()._frame_bytes(opcode, payload)
