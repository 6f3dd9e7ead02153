"""Fuzz targets: each takes arbitrary bytes and checks the parser's invariants.

The same functions run under atheris (``scripts/fuzz.py``, coverage-guided)
and under pytest, which replays the committed corpus in ``corpus/<target>/``.
A target fails by raising AssertionError or any unexpected exception.
"""

from __future__ import annotations

from mod_pywebsocket.protocol.connection import Close, Connection, Failure, Ping, Pong
from mod_pywebsocket.protocol.errors import HandshakeException
from mod_pywebsocket.protocol.handshake import (
    is_websocket_upgrade,
    parse_request_head,
    resource_from_target,
    validate_websocket_request,
)

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
    """A request head: parsed and validated, or rejected with an HTTP status."""
    try:
        request = parse_request_head(data, max_header_count=50, max_header_bytes=4096)
        is_websocket_upgrade(request)
        resource_from_target(request.target, validation_host="localhost", validation_port=80)
        ws = validate_websocket_request(request)
        assert ws.version in (8, 13)
    except HandshakeException as exc:
        assert exc.status is not None and 400 <= exc.status < 500, exc.status


TARGETS = {"frames": frames, "handshake": handshake}
