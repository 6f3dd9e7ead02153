"""pywebsocket3's frame-level stream methods, for the handlers that call them.

Real frame-level tests (web-platform-tests, WebKit, Chromium) call private
methods of ``request.ws_stream``: ``_receive_frame`` to read one raw frame
without the message layer's checks, ``_get_message_from_frame`` to assemble
such frames themselves, ``_process_close_message``, ``_send_pong``,
``_write``, ``_options``. :class:`LegacyStreamMethods` gives the session's
stream those methods with pywebsocket3's behaviour; nothing here is on the
message path, which stays in ``session.Stream``.

:class:`ConnectionTransport` lets that stream run over a harness's own
``request.connection`` (web-platform-tests drives pywebsocket3's handshaker
and dispatcher over an HTTP/2 stream whose ``read(n)`` blocks for n bytes):
it never asks for more than the current frame holds.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..protocol import constants as c
from ..protocol.connection import Connection
from ..protocol.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
)
from ..protocol.events import Close, Ping, Pong
from ..protocol.frames import FragmentedFrameBuilder, Frame, closing_handshake_body, parse_frame

if TYPE_CHECKING:
    from ..handlers.request import Request
    from ..protocol.events import Event
    from ..protocol.state import WebSocketCore
    from .session import Transport

_logger = logging.getLogger("mod_pywebsocket.stream")


class StreamOptions:
    """What configures a stream (pywebsocket3's class).

    The filter lists are kept for handlers that read or extend them; this
    server's streams take their compression from ``deflate_codec`` (set by
    the permessage-deflate processor agreed in the handshake) rather than
    from filters.
    """

    def __init__(self) -> None:
        self.outgoing_frame_filters: list[Any] = []
        self.incoming_frame_filters: list[Any] = []
        self.outgoing_message_filters: list[Any] = []
        self.incoming_message_filters: list[Any] = []
        self.encode_text_message_to_utf8 = True
        self.mask_send = False
        self.unmask_receive = True
        self.deflate_stream = False  # mod_pywebsocket 0.7.9's deflate-stream: never agreed
        self.deflate_codec: Any = None


def _frame_of(event: object) -> Frame | None:
    """An already-parsed event as the frame it came in (whole messages: one frame)."""
    if isinstance(event, str):
        return Frame(opcode=c.OPCODE_TEXT, payload=event.encode("utf-8"))
    if isinstance(event, bytes):
        return Frame(opcode=c.OPCODE_BINARY, payload=event)
    if isinstance(event, Ping):
        return Frame(opcode=c.OPCODE_PING, payload=event.payload)
    if isinstance(event, Pong):
        return Frame(opcode=c.OPCODE_PONG, payload=event.payload)
    if isinstance(event, Close):
        # The core let only a valid code and UTF-8 in, so this gives back its bytes.
        return Frame(
            opcode=c.OPCODE_CLOSE, payload=closing_handshake_body(event.code, event.reason)
        )
    return None


class LegacyStreamMethods:
    """pywebsocket3's private ``Stream`` methods over the session's stream.

    The host class provides ``_request``, ``_raw``, ``_core``, ``_read_lock``,
    ``_events``/``_event_index`` (parsed events not yet handed out),
    ``_last_opcode``, ``_write``, ``_send_locked`` and ``_on_close``.
    """

    _request: Request
    _transport: Transport
    _core: WebSocketCore
    _events: list[Event]
    _event_index: int
    _last_opcode: int | None
    _legacy_options: StreamOptions | None = None
    _legacy_fragments: list[bytes] | None = None
    _legacy_writer: FragmentedFrameBuilder | None = None

    if TYPE_CHECKING:
        import threading

        _read_lock: threading.Lock

        def _write(self, data: bytes) -> None: ...

        def _send_locked(self, make: Callable[[], bytes]) -> None: ...

        def _on_close(self, event: Close) -> None: ...

        def _note_close_sent(self) -> None: ...

        def receive_bytes(self, length: int) -> bytes: ...

    # --- attributes handlers read -------------------------------------------------------

    @property
    def _options(self) -> StreamOptions:
        options = self._legacy_options
        if options is None:
            options = self._legacy_options = StreamOptions()
            options.deflate_codec = getattr(self._core, "codec", None)
        return options

    @property
    def _logger(self) -> logging.Logger:
        return _logger

    @property
    def _writer(self) -> FragmentedFrameBuilder:
        writer = self._legacy_writer
        if writer is None:
            writer = self._legacy_writer = FragmentedFrameBuilder(False)
        return writer

    @property
    def _original_opcode(self) -> int | None:
        return self._last_opcode

    # --- raw reads ----------------------------------------------------------------------

    def _read(self, length: int) -> bytes:
        """Up to ``length`` bytes from the connection; the peer closing raises."""
        data = self._raw_read(length)
        if not data:
            raise ConnectionTerminatedException(
                f"receiving {length} bytes failed: the peer closed the connection"
            )
        return data

    def _raw_read(self, length: int) -> bytes:
        try:
            return self._transport.recv(length)
        except OSError as exc:
            raise ConnectionTerminatedException(f"receive failed: {exc}") from exc

    def _read_until(self, delim_char: bytes) -> bytes:
        """The bytes before ``delim_char`` (which is consumed, not returned)."""
        out = bytearray()
        while True:
            ch = self._read(1)
            if ch == delim_char:
                return bytes(out)
            out += ch

    def _receive_frame(self) -> tuple[int, bytes, int, int, int, int]:
        """One frame, unmasked but otherwise unchecked: (opcode, payload, fin, rsv1, rsv2, rsv3).

        Frames the message reader already took from the socket come first, one
        per message. Switching from messages to raw frames in the middle of a
        frame or of a fragmented message cannot be undone and raises
        BadOperationException.
        """
        with self._read_lock:
            while self._event_index < len(self._events):
                event = self._events[self._event_index]
                self._event_index += 1
                frame = _frame_of(event)
                if frame is not None:
                    return (
                        frame.opcode or 0,
                        frame.payload,
                        frame.fin,
                        frame.rsv1,
                        frame.rsv2,
                        frame.rsv3,
                    )
            core = self._core
            if not isinstance(core, Connection) or not core.at_message_boundary():
                raise BadOperationException(
                    "raw frames cannot be read here: the message reader holds part of a "
                    "frame (or this is a HyBi 00 connection)"
                )
            return parse_frame(
                self.receive_bytes,
                logger=_logger,
                ws_version=self._request.ws_version or c.VERSION_HYBI_LATEST,
                unmask_receive=self._options.unmask_receive,
            )

    def _receive_frame_as_frame_object(self) -> Frame:
        opcode, payload, fin, rsv1, rsv2, rsv3 = self._receive_frame()
        return Frame(fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3, opcode=opcode, payload=payload)

    def receive_filtered_frame(self) -> Frame:
        """One whole text or binary frame, inflated when it is compressed (testing aid)."""
        frame = self._receive_frame_as_frame_object()
        if not frame.fin:
            raise InvalidFrameException(
                "Segmented frames must not be received via receive_filtered_frame()"
            )
        if frame.opcode not in (c.OPCODE_TEXT, c.OPCODE_BINARY):
            raise InvalidFrameException(
                "Control frames must not be received via receive_filtered_frame()"
            )
        codec = self._options.deflate_codec
        if frame.rsv1 and codec is not None:
            frame.payload = codec.decompress(frame.payload, True, 1 << 62)
            frame.rsv1 = 0
        return frame

    # --- assembling frames the handler read ---------------------------------------------

    def _get_message_from_frame(self, frame: Frame) -> bytes | None:
        """Add a frame to the message being assembled; the payload once it is whole.

        pywebsocket3's rules: a continuation needs a started message, a new
        data frame may not interrupt one, a control frame cannot be fragmented.
        """
        fragments = self._legacy_fragments
        if frame.opcode == c.OPCODE_CONTINUATION:
            if not fragments:
                raise InvalidFrameException(
                    "Received a continuation frame but fragmentation not started"
                )
            fragments.append(frame.payload)
            if not frame.fin:
                return None
            self._legacy_fragments = None
            return b"".join(fragments)
        if fragments:
            raise InvalidFrameException("A new message started before the fragmented one ended")
        self._last_opcode = frame.opcode
        if frame.fin:
            return frame.payload
        if frame.opcode is not None and frame.opcode >> 3 == 1:  # pywebsocket3: 8-15
            raise InvalidFrameException("Control frames must not be fragmented")
        self._legacy_fragments = [frame.payload]
        return None

    def _process_close_message(self, message: bytes) -> None:
        """The peer's Close body: record it and answer it (the passive closing handshake)."""
        if len(message) == 1:
            raise InvalidFrameException("a close frame with a status code has 2 bytes of it")
        if not message:
            event = Close(None, "")
        else:
            event = Close(
                struct.unpack("!H", message[:2])[0], message[2:].decode("utf-8", "replace")
            )
        self._on_close(event)

    def _process_ping_message(self, message: bytes) -> None:
        handler = getattr(self._request, "on_ping_handler", None)
        if handler:
            handler(self._request, message)
            return
        self._send_pong(message)

    def _process_pong_message(self, message: bytes) -> None:
        handler = getattr(self._request, "on_pong_handler", None)
        if handler:
            handler(self._request, message)

    # --- raw writes ---------------------------------------------------------------------

    def _send_pong(self, body: bytes) -> None:
        self._send_locked(lambda: self._core.send_pong(bytes(body)))

    def _send_closing_handshake(self, code: int | None, reason: str) -> None:
        self._send_locked(lambda: self._core.send_close(code, reason))  # the core marks it
        self._note_close_sent()


class ConnectionTransport:
    """A harness's ``request.connection`` (``read(n)``/``write(data)``) as a transport.

    ``read(n)`` of such objects may block until n bytes arrive, so reads
    never go past the frame in progress: a frame header is read in exact
    pieces, then at most the payload it announced.
    """

    def __init__(self, connection: Any) -> None:
        self._conn = connection
        self._header = b""  # header bytes read but not yet handed out
        self._payload_left = 0

    def _read_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            data = self._conn.read(n - len(out))
            if not data:
                break
            out += data
        return out

    def _read_header(self) -> bytes:
        head = self._read_exact(2)
        if len(head) < 2:
            return head
        length = head[1] & 0x7F
        extra = (2 if length == 126 else 8 if length == 127 else 0) + (4 if head[1] & 0x80 else 0)
        rest = self._read_exact(extra)
        if length == 126:
            length = struct.unpack("!H", rest[:2])[0]
        elif length == 127:
            length = struct.unpack("!Q", rest[:8])[0]
        self._payload_left = length
        return head + rest

    def recv(self, size: int) -> bytes:
        if not self._header:
            if self._payload_left:
                data: bytes = self._conn.read(min(size, self._payload_left)) or b""
                self._payload_left -= len(data)
                return data
            self._header = self._read_header()
        data, self._header = self._header[:size], self._header[size:]
        return data

    def send(self, data: bytes | bytearray | memoryview) -> None:
        self._conn.write(bytes(data))

    def sendv(self, chunks: Sequence[bytes]) -> None:
        self._conn.write(b"".join(chunks))

    def set_timeout(self, timeout: float | None) -> None:
        """The harness owns the connection's timeouts."""

    def writable(self) -> bool:
        """A harness's connection cannot say whether a write would wait."""
        return False

    def abort(self) -> None:
        """The harness owns the connection; it closes it after the handler."""

    def shutdown_write(self) -> bool:
        return False


class ByteConnectionTransport(ConnectionTransport):
    """A harness's ``request.connection`` for HyBi 00 framing: frames end with a
    delimiter, not a length, so reads take one byte at a time and never block
    past the data that arrived."""

    def recv(self, size: int) -> bytes:
        data: bytes = self._conn.read(1) or b""
        return data
