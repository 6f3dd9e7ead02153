"""Fuzz targets: each takes arbitrary bytes and checks the parser's invariants.

The same functions run under atheris (``scripts/fuzz.py``, coverage-guided)
and under pytest, which replays the committed corpus in ``corpus/<target>/``.
A target fails by raising AssertionError or any unexpected exception.
"""

from __future__ import annotations

from mod_pywebsocket.protocol import connection
from mod_pywebsocket.protocol import handshake as head_parser
from mod_pywebsocket.protocol.connection import Close, Connection, Failure, Ping, Pong
from mod_pywebsocket.protocol.deflate import PerMessageDeflate
from mod_pywebsocket.protocol.errors import (
    HandshakeException,
    InvalidFrameException,
    MessageTooBigException,
)
from mod_pywebsocket.protocol.extensions import parse_extensions
from mod_pywebsocket.protocol.handshake import (
    check_partial_head,
    is_websocket_upgrade,
    parse_request_head,
    resource_from_target,
    validate_websocket_request,
)
from mod_pywebsocket.session.handshake import Reject
from mod_pywebsocket.session.http1 import RequestHeadReader

FAILURE_CODES = {1002, 1003, 1007, 1009}


def _chunks(data: bytes) -> list[bytes]:
    """Split the input at points chosen by its first byte, so chunking is fuzzed too."""
    if not data:
        return []
    step = data[0] % 17 + 1
    body = data[1:]
    return [body[i : i + step] for i in range(0, len(body), step)]


def _key(event: object) -> object:
    """What must not depend on chunking: the events, and a failure's close code."""
    return ("Failure", event.close_code) if isinstance(event, Failure) else repr(event)


def frames(data: bytes) -> None:
    """Bytes from a client, fed in chunks: only events, at most one Failure, at the end."""
    conn = Connection(max_message_size=1 << 16, max_frame_size=1 << 15)
    whole = Connection(max_message_size=1 << 16, max_frame_size=1 << 15)
    events: list[object] = []
    for chunk in _chunks(data):
        events += conn.receive_data(chunk)
    reference = whole.receive_data(b"".join(_chunks(data)))
    assert list(map(_key, events)) == list(map(_key, reference)), "chunking changed events"
    if connection.parse_messages is not None:  # the C run parser against the pure one
        fast, connection.parse_messages = connection.parse_messages, None
        try:
            pure = Connection(max_message_size=1 << 16, max_frame_size=1 << 15).receive_data(
                b"".join(_chunks(data))
            )
        finally:
            connection.parse_messages = fast
        assert list(map(_key, pure)) == list(map(_key, reference)), "the C parser differs"
    for i, event in enumerate(events):
        assert isinstance(event, str | bytes | Ping | Pong | Close | Failure), event
        if isinstance(event, Failure):
            assert event.close_code in FAILURE_CODES, event
            assert i == len(events) - 1, "events after a failure"
        if isinstance(event, Close):
            assert i == len(events) - 1, "events after a close"
            assert event.code is None or 1000 <= event.code <= 4999
        if isinstance(event, Ping | Pong):
            assert len(event.payload) <= 125


def handshake(data: bytes) -> None:
    """A request head: parsed and validated, or rejected with an HTTP status.

    Checking it while it arrives (as the driver does, in chunks) never refuses
    a head that the whole-head parser accepts; the C head parser, where it
    takes a head, gives the line parser's request.
    """
    fast = head_parser._parse_head_c
    if fast is not None:
        taken = fast(data)
        head_parser._parse_head_c = None
        try:
            pure = parse_request_head(
                data, max_request_line=1 << 20, max_header_count=1 << 20, max_header_bytes=1 << 20
            )
        except HandshakeException as exc:
            assert taken is None, (taken, exc)
        else:
            if taken is not None:
                fields = pure.headers._fields
                assert taken == (pure.method, pure.target, pure.version, fields), taken
        finally:
            head_parser._parse_head_c = fast
    parsed = False
    refused: int | None = None
    try:
        request = parse_request_head(data, max_header_count=50, max_header_bytes=4096)
        parsed = True
        is_websocket_upgrade(request)
        resource_from_target(request.target, validation_host="localhost", validation_port=80)
        ws = validate_websocket_request(request)
        assert ws.version in (8, 13)
    except HandshakeException as exc:
        assert exc.status is not None and 400 <= exc.status < 500, exc.status
        if not parsed:
            refused = exc.status
    if b"\r\n\r\n" not in data and len(data) <= 8192 and not data.endswith((b"\r", b"\n")):
        # The session layer's incremental reader agrees with the whole-head parser.
        reader = RequestHeadReader(
            max_request_line=8192, max_header_count=50, max_header_bytes=4096
        )
        step = data[0] % 17 + 1 if data else 1
        whole = data + b"\r\n\r\n"
        outcome = None
        for start in range(0, len(whole), step):
            outcome = reader.feed(whole[start : start + step])
            if outcome is not None:
                break
        if parsed:
            assert outcome is not None and not isinstance(outcome, Reject), outcome
            assert outcome.headers.items() == request.headers.items()
        else:
            assert isinstance(outcome, Reject) and outcome.status == refused, (outcome, refused)
    if parsed and b"\r\n\r\n" not in data:  # a driver's head never holds the blank line
        checked, step = 0, data[0] % 17 + 1 if data else 1
        for end in range(step, len(data) + step, step):
            checked = check_partial_head(data[:end], checked)
        if not data.endswith(b"\r\n"):  # else a CRLF more would be the blank line
            check_partial_head(data + b"\r\n", checked)  # the last line, once complete


def deflate(data: bytes) -> None:
    """The compression path: arbitrary deflate streams, compressed frames, round trips.

    Inflation must never exceed its allowance, must fail only with 1009 or
    1002, and what we compress must inflate back to itself.
    """
    if len(data) < 2:
        return
    flags, limit_byte, body = data[0], data[1], data[2:]
    limit = limit_byte * 64
    codec = PerMessageDeflate(
        server_no_context_takeover=bool(flags & 1),
        client_no_context_takeover=bool(flags & 2),
        server_max_window_bits=8 + (flags >> 4) % 8,
    )
    middle = len(body) // 2
    try:
        first = codec.decompress(body[:middle], False, limit)
        assert len(first) <= limit
        rest = codec.decompress(body[middle:], True, limit - len(first))
        assert len(first) + len(rest) <= limit
    except (MessageTooBigException, InvalidFrameException):
        pass
    conn = Connection(codec=PerMessageDeflate(), max_message_size=4096)
    for event in conn.receive_data(bytes(body)):
        if isinstance(event, Failure):
            assert event.close_code in FAILURE_CODES, event
        elif isinstance(event, str | bytes):
            assert len(event) <= 4096
    sender, receiver = (
        PerMessageDeflate(server_max_window_bits=8 + flags % 8),
        (PerMessageDeflate()),
    )
    for message in (body, body[::-1], b""):
        assert receiver.decompress(sender.compress(message, True), True, len(message)) == message
    try:
        parse_extensions(body.decode("latin-1"))
    except HandshakeException as exc:
        assert exc.status == 400


TARGETS = {"frames": frames, "handshake": handshake, "deflate": deflate}
