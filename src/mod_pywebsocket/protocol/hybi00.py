"""HyBi 00 (draft-ietf-hybi-thewebsocketprotocol-00, a.k.a. hixie-76), with no I/O.

Owns the legacy challenge-response opening handshake (``validate_request``,
``compute_challenge_response``, ``build_response``) and the ``0x00 <utf-8> 0xFF``
framing (``Hybi00Parser``, ``encode_text``, ``CLOSE_FRAME``). The protocol is
obsolete and insecure; drivers enable it only behind an explicit option.

Section numbers in comments refer to the draft.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from . import constants as c
from .errors import (
    BadOperationException,
    HandshakeException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
)
from .events import Close, Event, Failure
from .state import CLOSE_RECEIVED, CLOSED, RECEIVE_CLOSE, SEND_CLOSE, ClosingHandshake

HeaderLookup: TypeAlias = Callable[[str], str | None]
"""A case-insensitive header lookup: ``get(name)`` returns the value or None.

``Headers.get`` of the RFC 6455 handshake module fits, as does mod_python's
``headers_in.get``; for a dict with lower-cased keys pass ``lambda n: d.get(n.lower())``.
"""

# 5.2 step 10: the status line of the server's opening handshake.
_STATUS_LINE: Final = "HTTP/1.1 101 WebSocket Protocol Handshake"

_NON_DIGITS: Final = re.compile(r"[^0-9]")
# 1.7 / 4.1: a subprotocol is a non-empty string of U+0020..U+007E.
_SUBPROTOCOL_RE: Final = re.compile(r"^[\x20-\x7e]+$")
_PART_LIMIT: Final = 2**32
# A key number with more digits than this cannot yield a part below 2**32 with any
# space count a header can hold; checking it first keeps int() off huge digit strings.
_MAX_KEY_DIGITS: Final = 30
_KEY3_LENGTH: Final = 8


@dataclass(frozen=True)
class Hybi00Handshake:
    """What a valid HyBi 00 opening handshake request yields for the response."""

    resource: str
    """The request target (path and query), as the handler sees it in ``ws_resource``."""
    origin: str | None
    """The ``Origin`` header, or None when the client sent none."""
    location: str
    """``ws://host/resource`` (``wss://`` when secure), echoed as Sec-WebSocket-Location."""
    protocol: str | None
    """The offered ``Sec-WebSocket-Protocol`` value (HyBi 00 offers one), or None."""
    challenge_response: bytes
    """The 16 bytes (MD5) that end the server's handshake (5.2 step 9)."""


def is_hybi00_request(get_header: HeaderLookup) -> bool:
    """True when an Upgrade request speaks HyBi 00: Key1/Key2 and no Sec-WebSocket-Version.

    A driver calls this after parsing the request head to decide whether to read the
    8-byte body and use this module instead of the RFC 6455 handshake.
    """
    if get_header(c.SEC_WEBSOCKET_VERSION_HEADER) is not None:
        return False
    return (
        get_header(c.SEC_WEBSOCKET_KEY1_HEADER) is not None
        or get_header(c.SEC_WEBSOCKET_KEY2_HEADER) is not None
    )


def _key_part(name: str, value: str) -> int:
    """5.2 steps 4-7: the key's digits as a number, divided by its count of spaces."""
    digits = _NON_DIGITS.sub("", value).lstrip("0")
    if not digits:
        if "0" not in value:
            raise HandshakeException(f"{name} contains no digit", c.HTTP_STATUS_BAD_REQUEST)
        digits = "0"
    spaces = value.count(" ")
    if spaces == 0:
        raise HandshakeException(f"{name} contains no space", c.HTTP_STATUS_BAD_REQUEST)
    if len(digits) > _MAX_KEY_DIGITS:
        raise HandshakeException(f"{name} key number is too large", c.HTTP_STATUS_BAD_REQUEST)
    key_number = int(digits)
    # 5.2 step 6: the key number must be an integral multiple of the spaces.
    if key_number % spaces != 0:
        raise HandshakeException(
            f"{name}: key number {key_number} is not a multiple of {spaces} spaces",
            c.HTTP_STATUS_BAD_REQUEST,
        )
    part = key_number // spaces
    # 5.2 step 8 packs each part as a big-endian 32-bit integer.
    if part >= _PART_LIMIT:
        raise HandshakeException(
            f"{name}: key number / spaces does not fit in 32 bits", c.HTTP_STATUS_BAD_REQUEST
        )
    return part


def compute_challenge_response(key1: str, key2: str, key3: bytes) -> bytes:
    """5.2 steps 4-9: MD5(part1 as 4 big-endian bytes + part2 likewise + the 8-byte key3).

    ``key1``/``key2`` are the raw Sec-WebSocket-Key1/Key2 values; a malformed key or a
    key3 that is not 8 bytes raises HandshakeException (400).
    """
    if len(key3) != _KEY3_LENGTH:
        raise HandshakeException(
            f"the handshake body is {len(key3)} bytes, not {_KEY3_LENGTH}",
            c.HTTP_STATUS_BAD_REQUEST,
        )
    part1 = _key_part(c.SEC_WEBSOCKET_KEY1_HEADER, key1)
    part2 = _key_part(c.SEC_WEBSOCKET_KEY2_HEADER, key2)
    challenge = part1.to_bytes(4, "big") + part2.to_bytes(4, "big") + bytes(key3)
    return hashlib.md5(challenge, usedforsecurity=False).digest()


def _split_host(host: str) -> tuple[str, int | None]:
    """Split a Host header into name and port; ``[v6]`` literals keep their brackets."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise HandshakeException(f"invalid Host {host[:100]!r}", c.HTTP_STATUS_BAD_REQUEST)
        name, rest = host[: end + 1], host[end + 1 :]
        if not rest:
            return name, None
        if not rest.startswith(":"):
            raise HandshakeException(f"invalid Host {host[:100]!r}", c.HTTP_STATUS_BAD_REQUEST)
        port_text = rest[1:]
    else:
        name, sep, port_text = host.rpartition(":")
        if not sep:
            return host, None
    if not name or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise HandshakeException(f"invalid Host {host[:100]!r}", c.HTTP_STATUS_BAD_REQUEST)
    return name, int(port_text)


def build_location(host: str, resource: str, *, secure: bool, server_port: int | None) -> str:
    """The Sec-WebSocket-Location value: scheme, the Host header's authority, resource.

    The default port for the scheme is left out, as the client wrote its URL. With
    ``server_port`` given, a Host naming another port is refused (400).
    """
    default_port = c.DEFAULT_WEB_SOCKET_SECURE_PORT if secure else c.DEFAULT_WEB_SOCKET_PORT
    name, port = _split_host(host)
    effective_port = default_port if port is None else port
    if server_port is not None and effective_port != server_port:
        raise HandshakeException(
            f"Host port {effective_port} is not the server's port {server_port}",
            c.HTTP_STATUS_BAD_REQUEST,
        )
    authority = name if effective_port == default_port else f"{name}:{effective_port}"
    return f"{'wss' if secure else 'ws'}://{authority}{resource}"


def _require_token(get_header: HeaderLookup, name: str, token: str) -> None:
    value = get_header(name)
    tokens = [t.strip().lower() for t in value.split(",")] if value else []
    if token not in tokens:
        raise HandshakeException(
            f"{name} header {value!r} does not name {token}", c.HTTP_STATUS_BAD_REQUEST
        )


def validate_request(
    method: str,
    target: str,
    get_header: HeaderLookup,
    key3: bytes,
    *,
    secure: bool = False,
    server_port: int | None = None,
    http_version: str = "HTTP/1.1",
) -> Hybi00Handshake:
    """Validate a HyBi 00 opening handshake (5.1, 5.2) and compute what the 101 needs.

    ``target`` is the request target in origin form (``/path?query``; a driver that
    accepts absolute targets passes the resource it derived). ``get_header`` is a
    case-insensitive lookup (see ``HeaderLookup``); ``key3`` is the 8-byte body that
    follows the blank line. ``secure`` selects ``wss://``. Every failure raises
    HandshakeException with status 400.
    """
    bad = c.HTTP_STATUS_BAD_REQUEST
    if method != "GET":
        raise HandshakeException(f"method {method[:20]!r} is not GET", bad)
    if http_version != "HTTP/1.1":
        raise HandshakeException(f"{http_version[:20]!r} is not HTTP/1.1", bad)
    if not target.startswith("/"):
        raise HandshakeException(f"request target {target[:100]!r} is not a path", bad)
    if "#" in target:
        raise HandshakeException("fragment in the request target", bad)
    # 5.1: Upgrade is "WebSocket" (compared case-insensitively), Connection "Upgrade".
    _require_token(get_header, c.UPGRADE_HEADER, c.WEBSOCKET_UPGRADE_TYPE)
    _require_token(get_header, c.CONNECTION_HEADER, "upgrade")
    host = get_header(c.HOST_HEADER)
    if not host:
        raise HandshakeException("Host header is missing", bad)
    # HyBi 01-03 announced themselves with Sec-WebSocket-Draft; only 0 (or none) is ours.
    draft = get_header(c.SEC_WEBSOCKET_DRAFT_HEADER)
    if draft is not None and draft.strip() != "0":
        raise HandshakeException(f"unsupported {c.SEC_WEBSOCKET_DRAFT_HEADER} {draft!r}", bad)
    key1 = get_header(c.SEC_WEBSOCKET_KEY1_HEADER)
    key2 = get_header(c.SEC_WEBSOCKET_KEY2_HEADER)
    if key1 is None:
        raise HandshakeException(f"{c.SEC_WEBSOCKET_KEY1_HEADER} header is missing", bad)
    if key2 is None:
        raise HandshakeException(f"{c.SEC_WEBSOCKET_KEY2_HEADER} header is missing", bad)
    protocol = get_header(c.SEC_WEBSOCKET_PROTOCOL_HEADER)
    if protocol is not None and not _SUBPROTOCOL_RE.match(protocol):
        raise HandshakeException(f"invalid subprotocol {protocol[:100]!r}", bad)
    return Hybi00Handshake(
        resource=target,
        origin=get_header(c.ORIGIN_HEADER),
        location=build_location(host, target, secure=secure, server_port=server_port),
        protocol=protocol,
        challenge_response=compute_challenge_response(key1, key2, key3),
    )


def build_response(
    origin: str | None,
    location: str,
    protocol: str | None,
    challenge_response: bytes,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """5.2 steps 10-13: the server's 101 handshake, ending with the 16-byte response.

    Sec-WebSocket-Origin is left out when ``origin`` is None. ``extra_headers`` are
    written verbatim as ``name: value`` lines (API.md section 3: test suites rely on
    it, even on a CRLF inside a value), latin-1 encoded like the rest of the head.
    """
    if len(challenge_response) != 16:
        raise ValueError("challenge_response must be 16 bytes")
    lines = [
        _STATUS_LINE,
        f"{c.UPGRADE_HEADER}: {c.WEBSOCKET_UPGRADE_TYPE_HIXIE75}",
        f"{c.CONNECTION_HEADER}: Upgrade",
    ]
    if origin is not None:
        lines.append(f"{c.SEC_WEBSOCKET_ORIGIN_HEADER}: {origin}")
    lines.append(f"{c.SEC_WEBSOCKET_LOCATION_HEADER}: {location}")
    if protocol is not None:
        lines.append(f"{c.SEC_WEBSOCKET_PROTOCOL_HEADER}: {protocol}")
    lines.extend(f"{name}: {value}" for name, value in extra_headers)
    head = "".join(line + "\r\n" for line in lines) + "\r\n"
    return head.encode("latin-1") + bytes(challenge_response)


# Framing (4.2 for the client's side, 5.3 for what the server reads).

CLOSE_FRAME: Final = b"\xff\x00"
"""The closing handshake frame: type 0xFF, length 0 (4.2, 5.3)."""

_TEXT_FRAME_TYPE: Final = 0x00
_CLOSE_FRAME_TYPE: Final = 0xFF
_TERMINATOR: Final = b"\xff"
# 7 bits per length byte; ten bytes already exceed 2**64, so more is malformed.
_MAX_LENGTH_BYTES: Final = 10


class Hybi00Close:
    """The event for the peer's closing handshake (0xFF 0x00)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Hybi00Close()"


CLOSE: Final = Hybi00Close()
"""The single close event instance ``Hybi00Parser.feed`` returns."""

Hybi00Event: TypeAlias = str | Hybi00Close
"""A text message (``str``) or ``CLOSE``."""


def encode_text(message: str) -> bytes:
    """A text frame: 0x00, the UTF-8 bytes, 0xFF.

    A string that cannot be UTF-8 encoded (a lone surrogate) raises BadOperationException.
    """
    try:
        payload = message.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadOperationException(f"message is not encodable as UTF-8: {exc}") from None
    return b"\x00" + payload + _TERMINATOR


_STATE_TYPE: Final = 0
_STATE_DELIMITED: Final = 1
_STATE_LENGTH: Final = 2
_STATE_SKIP: Final = 3
_STATE_CLOSED: Final = 4


class Hybi00Parser:
    """Incremental HyBi 00 frame parser: ``feed(bytes)`` returns complete events.

    5.3: a type byte without the high bit starts a frame ended by 0xFF; type 0x00 is a
    text message, other types are discarded. A type byte with the high bit is followed
    by a length (7-bit groups, high bit = more) and that many bytes, discarded, except
    type 0xFF with length 0, the closing handshake. Nothing is read after the close.

    A frame over ``max_frame_size`` raises MessageTooBigException as soon as that is
    known, so no more than ``max_frame_size`` + one read is ever buffered. Invalid
    UTF-8 raises InvalidUTF8Exception; with ``strict_utf8=False`` it is replaced by
    U+FFFD instead, as the draft (4.2) asks. A length of more than ten bytes raises
    InvalidFrameException. After an exception the parser is unusable.
    """

    __slots__ = (
        "_buffer",
        "_errors",
        "_frame_type",
        "_length",
        "_length_bytes",
        "_max_frame_size",
        "_scanned",
        "_state",
    )

    def __init__(self, max_frame_size: int, *, strict_utf8: bool = True) -> None:
        if max_frame_size < 0:
            raise ValueError("max_frame_size must not be negative")
        self._max_frame_size = max_frame_size
        self._errors = "strict" if strict_utf8 else "replace"
        self._buffer = bytearray()
        self._state = _STATE_TYPE
        self._frame_type = 0
        # Bytes of the current delimited payload already searched for 0xFF.
        self._scanned = 0
        # The length being decoded (LENGTH) or the bytes left to discard (SKIP).
        self._length = 0
        self._length_bytes = 0

    @property
    def closed(self) -> bool:
        """True once the peer's closing handshake has been parsed."""
        return self._state == _STATE_CLOSED

    def feed(self, data: bytes) -> list[Hybi00Event]:
        """Parse ``data`` after whatever earlier calls left buffered; return the events."""
        if self._state == _STATE_CLOSED:
            return []
        buf = self._buffer
        buf += data
        events: list[Hybi00Event] = []
        pos = 0
        end = len(buf)
        limit = self._max_frame_size
        state = self._state
        try:
            while pos < end:
                if state == _STATE_TYPE:
                    frame_type = buf[pos]
                    pos += 1
                    self._frame_type = frame_type
                    if frame_type & 0x80:
                        self._length = 0
                        self._length_bytes = 0
                        state = _STATE_LENGTH
                    else:
                        self._scanned = 0
                        state = _STATE_DELIMITED
                elif state == _STATE_DELIMITED:
                    # Search only where the terminator of an allowed frame can be.
                    stop = buf.find(_TERMINATOR, pos + self._scanned, pos + limit + 1)
                    if stop < 0:
                        if end - pos > limit:
                            raise MessageTooBigException(
                                f"frame exceeds the limit of {limit} bytes"
                            )
                        self._scanned = end - pos
                        break
                    if self._frame_type == _TEXT_FRAME_TYPE:
                        try:
                            events.append(buf[pos:stop].decode("utf-8", self._errors))
                        except UnicodeDecodeError as exc:
                            raise InvalidUTF8Exception(
                                f"text frame is not valid UTF-8: {exc.reason}"
                            ) from None
                    pos = stop + 1
                    state = _STATE_TYPE
                elif state == _STATE_LENGTH:
                    byte = buf[pos]
                    pos += 1
                    self._length_bytes += 1
                    if self._length_bytes > _MAX_LENGTH_BYTES:
                        raise InvalidFrameException("frame length has too many bytes")
                    length = (self._length << 7) | (byte & 0x7F)
                    if length > limit:
                        raise MessageTooBigException(f"frame exceeds the limit of {limit} bytes")
                    self._length = length
                    if byte & 0x80:
                        continue
                    if self._frame_type == _CLOSE_FRAME_TYPE and length == 0:
                        # 5.3: 0xFF 0x00 is the client's closing handshake.
                        events.append(CLOSE)
                        state = _STATE_CLOSED
                        buf.clear()
                        return events
                    state = _STATE_SKIP if length else _STATE_TYPE
                else:  # _STATE_SKIP: discard the length-prefixed payload without buffering.
                    take = min(self._length, end - pos)
                    pos += take
                    self._length -= take
                    if self._length == 0:
                        state = _STATE_TYPE
        finally:
            self._state = state
            del buf[:pos]
        return events


class Hybi00Connection(ClosingHandshake):
    """The HyBi 00 dialect behind the same interface as ``connection.Connection``
    (:class:`state.WebSocketCore`), with the same closing-handshake state.

    The session's stream drives either one: messages are text only, there are
    no pings and no close codes, and the closing handshake is ``0xFF 0x00``.
    """

    __slots__ = ("_parser",)

    def __init__(self, max_frame_size: int) -> None:
        ClosingHandshake.__init__(self)
        self._parser = Hybi00Parser(max_frame_size)

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        events: list[Event] = []
        state = self.state
        if state is CLOSE_RECEIVED or state is CLOSED or self.failed is not None:
            return events
        try:
            parsed = self._parser.feed(bytes(data))
        except (InvalidFrameException, InvalidUTF8Exception, MessageTooBigException) as exc:
            self.failed = exc
            return [Failure(exc)]
        for event in parsed:
            if isinstance(event, Hybi00Close):
                self._transition(RECEIVE_CLOSE)
                events.append(Close(None, ""))
                break
            events.append(event)
        return events

    def send_data(self, payload: bytes, binary: bool, fin: bool = True) -> tuple[bytes, bytes]:
        if self.close_sent:
            raise BadOperationException("cannot send a message after the closing handshake")
        if binary:
            raise BadOperationException("HyBi 00 has no binary messages")
        if not fin:
            raise BadOperationException("HyBi 00 has no fragmented messages")
        if b"\xff" in payload:
            raise BadOperationException("a HyBi 00 text message cannot contain 0xFF")
        return b"\x00", payload + b"\xff"

    def send_ping(self, payload: bytes) -> bytes:
        raise BadOperationException("HyBi 00 has no ping frames")

    send_pong = send_ping

    def send_close(self, code: int | None = None, reason: str = "") -> bytes:
        """The closing frame; HyBi 00 carries no code or reason."""
        if self.close_sent:
            raise BadOperationException("the closing frame was already sent")
        self._transition(SEND_CLOSE)
        return CLOSE_FRAME

    def fail(self, code: int, reason: str = "") -> bytes:
        if self.close_sent:
            return b""
        self._transition(SEND_CLOSE)
        return CLOSE_FRAME
