"""The RFC 6455 state machine: bytes in, events out, no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mod_pywebsocket.protocol import constants as c
from mod_pywebsocket.protocol.connection import Close, Connection, Failure, Ping, Pong
from mod_pywebsocket.protocol.errors import BadOperationException
from mod_pywebsocket.protocol.masking import apply_mask

from .helpers import client_frame, close_body, speedups


def feed_bytewise(conn: Connection, data: bytes) -> list[object]:
    events: list[object] = []
    for i in range(len(data)):
        events += conn.receive_data(data[i : i + 1])
    return events


def failure_code(events: list[object]) -> int:
    assert isinstance(events[-1], Failure), events
    return events[-1].close_code


def test_text_and_binary_messages() -> None:
    conn = Connection()
    data = client_frame(c.OPCODE_TEXT, "héllo".encode())
    data += client_frame(c.OPCODE_BINARY, b"\x00\xff")
    assert conn.receive_data(data) == ["héllo", b"\x00\xff"]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_lengths_round_trip(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert Connection().receive_data(client_frame(c.OPCODE_BINARY, payload)) == [payload]


def test_byte_by_byte_feeding_gives_the_same_events() -> None:
    data = (
        client_frame(c.OPCODE_TEXT, "κόσμε".encode(), fin=False)
        + client_frame(c.OPCODE_PING, b"p")
        + client_frame(c.OPCODE_CONTINUATION, b"!" * 300)
        + client_frame(c.OPCODE_CLOSE, close_body(1000, b"bye"))
    )
    events = feed_bytewise(Connection(), data)
    assert isinstance(events[0], Ping) and events[0].payload == b"p"
    assert events[1] == "κόσμε" + "!" * 300
    assert isinstance(events[2], Close) and (events[2].code, events[2].reason) == (1000, "bye")


def test_control_frames_inside_fragmented_message_are_legal() -> None:
    conn = Connection()
    events = conn.receive_data(
        client_frame(c.OPCODE_TEXT, b"a", fin=False)
        + client_frame(c.OPCODE_PONG, b"x")
        + client_frame(c.OPCODE_CONTINUATION, b"b")
    )
    assert isinstance(events[0], Pong) and events[1] == "ab"


@pytest.mark.parametrize(
    "data, code",
    [
        (client_frame(c.OPCODE_TEXT, b"x", rsv=1), 1002),  # RSV1 without extension
        (client_frame(c.OPCODE_TEXT, b"x", rsv=2), 1002),
        (client_frame(c.OPCODE_TEXT, b"x", rsv=4), 1002),
        (client_frame(3, b""), 1002),  # reserved data opcode
        (client_frame(0xB, b""), 1002),  # reserved control opcode
        (client_frame(c.OPCODE_PING, b"x" * 126), 1002),
        (client_frame(c.OPCODE_PING, b"x", fin=False), 1002),
        (client_frame(c.OPCODE_CONTINUATION, b"x"), 1002),
        (client_frame(c.OPCODE_TEXT, b"x", fin=False) + client_frame(c.OPCODE_TEXT, b"y"), 1002),
        (client_frame(c.OPCODE_TEXT, b"x", masked=False), 1002),
        (client_frame(c.OPCODE_TEXT, b"\xff"), 1007),
        (client_frame(c.OPCODE_TEXT, b"\xce", fin=False) + client_frame(0, b"", fin=True), 1007),
        (client_frame(c.OPCODE_CLOSE, b"\x03"), 1002),
        (client_frame(c.OPCODE_CLOSE, close_body(999)), 1002),
        (client_frame(c.OPCODE_CLOSE, close_body(1005)), 1002),
        (client_frame(c.OPCODE_CLOSE, close_body(1016)), 1002),
        (client_frame(c.OPCODE_CLOSE, close_body(5000)), 1002),
        (client_frame(c.OPCODE_CLOSE, close_body(1000, b"\xff")), 1007),
    ],
)
def test_protocol_errors_map_to_close_codes(data: bytes, code: int) -> None:
    assert failure_code(Connection().receive_data(data)) == code


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
)
def test_valid_close_codes(code: int) -> None:
    [event] = Connection().receive_data(client_frame(c.OPCODE_CLOSE, close_body(code)))
    assert isinstance(event, Close) and event.code == code


def test_empty_close_body_is_code_none() -> None:
    [event] = Connection().receive_data(client_frame(c.OPCODE_CLOSE))
    assert isinstance(event, Close) and event.code is None


def test_invalid_utf8_fails_before_the_frame_ends() -> None:
    # RFC 6455 8.1: fail fast. The bad byte arrives but the frame's tail has not.
    conn = Connection()
    frame = client_frame(c.OPCODE_TEXT, "κόσμε".encode() + b"\xed\xa0\x80" + b"x" * 100)
    events = conn.receive_data(frame[: 6 + 12])
    assert failure_code(events) == 1007


def test_frame_header_over_limit_fails_before_payload() -> None:
    conn = Connection(max_frame_size=1000)
    header_only = client_frame(c.OPCODE_BINARY, b"x" * 2000)[:8]
    assert failure_code(conn.receive_data(header_only)) == 1009


def test_message_over_limit_across_fragments() -> None:
    conn = Connection(max_message_size=10)
    data = client_frame(c.OPCODE_BINARY, b"x" * 6, fin=False) + client_frame(0, b"y" * 6)
    assert failure_code(conn.receive_data(data)) == 1009


def test_bytes_after_close_are_ignored() -> None:
    conn = Connection()
    events = conn.receive_data(client_frame(c.OPCODE_CLOSE) + client_frame(c.OPCODE_TEXT, b"x"))
    assert len(events) == 1 and isinstance(events[0], Close)
    assert conn.receive_data(client_frame(c.OPCODE_TEXT, b"y")) == []


def test_send_side_frames() -> None:
    conn = Connection()
    assert conn.send_data(b"abc", binary=True) == (b"\x82\x03", b"abc")
    header, payload = conn.send_data("é".encode(), binary=False, fin=False)
    assert header == b"\x01\x02"
    assert conn.send_data(b"x", binary=False)[0] == b"\x80\x01"
    with pytest.raises(BadOperationException):
        conn.send_data(b"x", binary=True, fin=False) and conn.send_data(b"x", binary=False)
    assert conn.send_ping(b"hi") == b"\x89\x02hi"
    assert conn.send_close(1000, "ok") == b"\x88\x04\x03\xe8ok"
    with pytest.raises(BadOperationException):
        conn.send_data(b"x", binary=True)


def test_send_close_rejects_reserved_codes() -> None:
    for code in (999, 1005, 1006, 1015, 5000):
        with pytest.raises(BadOperationException):
            Connection().send_close(code)
    assert Connection().send_close(None) == b"\x88\x00"


def test_fail_sends_one_close() -> None:
    conn = Connection()
    assert conn.fail(1002, "bad") == b"\x88\x05\x03\xeabad"
    assert conn.fail(1002) == b""


def _valid_prefix_reference(data: bytes) -> bool:
    """A slow reference: can ``data`` be extended into valid UTF-8?"""
    for tail_len in range(0, 4):
        for tail in _completions(tail_len):
            try:
                (data + tail).decode("utf-8")
                return True
            except UnicodeDecodeError:
                continue
    return False


def _completions(n: int) -> list[bytes]:
    if n == 0:
        return [b""]
    return [
        bytes([b]) + rest
        for b in (0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF)
        for rest in _completions(n - 1)
    ]


def test_fail_fast_matches_a_reference_on_every_two_byte_prefix() -> None:
    from mod_pywebsocket.protocol.errors import InvalidUTF8Exception
    from mod_pywebsocket.protocol.utf8 import Utf8Decoder

    for first in range(0xC0, 0x100):
        for second in range(0x80, 0xC0):
            prefix = bytes([first, second])
            try:
                Utf8Decoder().decode(prefix)
                accepted = True
            except InvalidUTF8Exception:
                accepted = False
            assert accepted == _valid_prefix_reference(prefix), prefix.hex()


# --- fragmented messages: memory and limits ---------------------------------------------


def _fragments(opcode: int, payload: bytes, size: int, ends: bool = True) -> bytes:
    """``payload`` as frames of ``size`` bytes, masked with a zero key (so built fast).

    With ``ends=False`` no frame has FIN: the message goes on.
    """
    frames = []
    for start in range(0, len(payload), size):
        chunk = payload[start : start + size]
        fin = 0x80 if ends and start + size >= len(payload) else 0
        frames.append(
            bytes((fin | (opcode if start == 0 else 0), 0x80 | len(chunk))) + b"\0\0\0\0" + chunk
        )
    return b"".join(frames)


def _peak_while_receiving(wire: bytes) -> tuple[list[object], int]:
    """The events of ``wire`` fed in 64 KiB reads, and the peak Python heap it took."""
    import tracemalloc

    conn = Connection()
    view = memoryview(wire)
    events: list[object] = []
    tracemalloc.start()
    try:
        for start in range(0, len(wire), 65536):
            events += conn.receive_data(view[start : start + 65536])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return events, peak


@pytest.mark.parametrize("opcode", [c.OPCODE_BINARY, c.OPCODE_TEXT])
def test_tiny_fragments_cost_memory_proportional_to_the_payload(opcode: int) -> None:
    # 2-byte continuation frames used to be kept one object each: 63x (binary) and
    # 31x (text) the payload. The bound covers the pieces plus the joined message.
    payload = b"ab" * 65536
    events, peak = _peak_while_receiving(_fragments(opcode, payload, 2))
    assert events == [payload if opcode == c.OPCODE_BINARY else payload.decode()]
    assert peak <= 2.25 * len(payload), peak / len(payload)


@pytest.mark.parametrize(
    "sizes",
    [[1, 1, 1, 200_000], [70_000, 1, 70_000, 3], [65_536] * 3, [5, 100_000, 7, 9, 60_000, 1]],
)
def test_fragments_of_any_sizes_assemble_in_order(sizes: list[int]) -> None:
    parts = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    data = b"".join(
        client_frame(c.OPCODE_BINARY if i == 0 else 0, part, fin=i == len(parts) - 1)
        for i, part in enumerate(parts)
    )
    assert Connection().receive_data(data) == [b"".join(parts)]


@given(st.text(max_size=300), st.lists(st.integers(1, 40), min_size=1, max_size=40))
def test_text_split_anywhere_decodes_the_same(text: str, cuts: list[int]) -> None:
    encoded = text.encode("utf-8")
    frames, start, i = [], 0, 0
    while True:
        end = min(start + cuts[i % len(cuts)], len(encoded))
        frames.append(
            client_frame(
                c.OPCODE_TEXT if start == 0 else 0, encoded[start:end], fin=end == len(encoded)
            )
        )
        if end == len(encoded):
            break
        start, i = end, i + 1
    assert feed_bytewise(Connection(), b"".join(frames)) == [text]


@pytest.mark.parametrize("opcode", [c.OPCODE_BINARY, c.OPCODE_TEXT])
def test_message_limit_applies_to_many_tiny_fragments(opcode: int) -> None:
    conn = Connection(max_message_size=1000)
    events = conn.receive_data(_fragments(opcode, b"x" * 999, 2))
    assert events == [b"x" * 999 if opcode == c.OPCODE_BINARY else "x" * 999]
    events = conn.receive_data(_fragments(opcode, b"x" * 1002, 2))
    assert failure_code(events) == 1009 and len(events) == 1


def test_invalid_utf8_in_a_late_tiny_fragment_fails_at_that_fragment() -> None:
    conn = Connection()
    assert conn.receive_data(_fragments(c.OPCODE_TEXT, "é".encode() * 3000, 2, ends=False)) == []
    # A surrogate lead (0xED 0xA0) can never become valid: fail now, not at FIN.
    assert failure_code(conn.receive_data(bytes((0x00, 0x82)) + b"\0\0\0\0\xed\xa0")) == 1007


@pytest.mark.parametrize("assembler", ["c", "none"])
@settings(deadline=None, max_examples=30)
@given(
    size=st.integers(min_value=64 * 1024, max_value=300_000),
    cuts=st.lists(st.integers(min_value=1, max_value=70_000), min_size=1, max_size=12),
)
def test_large_binary_frames_in_any_chunking_give_the_payload(
    assembler: str, size: int, cuts: list[int]
) -> None:
    """A large binary frame is unmasked into place (masking.Assembler) when the C
    module is there, else unmasked per chunk and joined: the same message either
    way, however the bytes arrive, and the frame after it parses as before."""
    from mod_pywebsocket.protocol import connection

    chosen = speedups().Assembler if assembler == "c" else None
    payload = bytes(range(251)) * (size // 251) + bytes(size % 251)
    key = b"\x9a\x01\x7e\xc3"
    header = client_frame(c.OPCODE_BINARY, bytes(size), mask=key)[:14]  # its header and key
    wire = header + apply_mask(payload, key) + client_frame(c.OPCODE_TEXT, b"next")
    conn = Connection()
    saved = connection.Assembler
    connection.Assembler = chosen  # type: ignore[assignment]
    try:
        events: list[object] = []
        pos = 0
        for cut in cuts * (len(wire) // sum(cuts) + 1):
            events += conn.receive_data(wire[pos : pos + cut])
            pos += cut
            if pos >= len(wire):
                break
    finally:
        connection.Assembler = saved
    assert events == [payload, "next"]


def test_a_large_frame_over_the_limit_fails_before_any_payload() -> None:
    conn = Connection(max_message_size=100_000)
    header = client_frame(c.OPCODE_BINARY, bytes(200_000), mask=b"abcd")[:14]
    events = conn.receive_data(header)
    assert failure_code(events) == c.STATUS_MESSAGE_TOO_BIG
    assert conn._assembler is None


_FRAME_KINDS = st.sampled_from(
    ["text", "binary", "bad-utf8", "ping", "fragmented", "rsv1", "unmasked", "over-limit"]
)


def _frame(kind: str, size: int) -> bytes:
    body = ("é" * size).encode()[:size]  # may end inside a character: "bad-utf8" then
    if kind == "text":
        return client_frame(
            c.OPCODE_TEXT, ("x" * (size - 2) + "é")[-size:].encode() if size else b""
        )
    if kind == "binary":
        return client_frame(c.OPCODE_BINARY, bytes(range(256)) * (size // 256) + bytes(size % 256))
    if kind == "bad-utf8":
        return client_frame(c.OPCODE_TEXT, b"ok\xff" + body)
    if kind == "ping":
        return client_frame(c.OPCODE_PING, body[:125])
    if kind == "fragmented":
        return client_frame(c.OPCODE_TEXT, b"a", fin=False) + client_frame(
            c.OPCODE_CONTINUATION, b"b"
        )
    if kind == "rsv1":
        return client_frame(c.OPCODE_BINARY, b"z", rsv=4)
    if kind == "unmasked":
        return client_frame(c.OPCODE_BINARY, b"u", masked=False)
    return client_frame(c.OPCODE_BINARY, bytes(3000))  # over the limit below


def _events_of(wire: bytes, cuts: list[int], fast: object) -> list[object]:
    from mod_pywebsocket.protocol import connection

    saved = connection.parse_messages
    connection.parse_messages = fast  # type: ignore[assignment]
    try:
        conn = Connection(max_message_size=2048)
        events: list[object] = []
        pos = 0
        for cut in cuts * (len(wire) // max(1, sum(cuts)) + 1):
            events += conn.receive_data(wire[pos : pos + cut])
            pos += cut
            if pos >= len(wire):
                break
        events += conn.receive_data(wire[pos:])
    finally:
        connection.parse_messages = saved
    return [(type(e).__name__, e.close_code) if isinstance(e, Failure) else e for e in events]


@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(
        st.tuples(_FRAME_KINDS, st.sampled_from([0, 1, 5, 125, 126, 2000, 2048, 2049, 9000])),
        min_size=1,
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=6),
)
def test_the_c_run_parser_gives_the_pure_parsers_events(
    frames: list[tuple[str, int]], cuts: list[int]
) -> None:
    """_speedups.parse_messages takes runs of small whole messages between the
    Python parser's frames: for any mix of frames (control, fragmented,
    compressed, unmasked, invalid UTF-8, over the limit), cut anywhere, the
    events and the failure are the pure parser's."""
    wire = b"".join(_frame(kind, size) for kind, size in frames)
    fast = speedups().parse_messages
    assert _events_of(wire, cuts, fast) == _events_of(wire, cuts, None)


def test_the_c_run_parser_stops_where_the_python_parser_must_decide() -> None:
    parse = speedups().parse_messages
    run = client_frame(c.OPCODE_TEXT, "héllo".encode()) + client_frame(c.OPCODE_BINARY, b"\x00")
    events: list[object] = []
    for stop in (
        client_frame(c.OPCODE_PING, b"p"),
        client_frame(c.OPCODE_TEXT, b"\xc3"),  # not UTF-8
        client_frame(c.OPCODE_BINARY, b"x" * 101),  # over the limit of 100
        client_frame(c.OPCODE_BINARY, b"x", rsv=4),
        client_frame(c.OPCODE_BINARY, b"x", fin=False),
        client_frame(c.OPCODE_BINARY, b"x", masked=False),
        client_frame(c.OPCODE_BINARY, bytes(70_000)),  # a 64-bit length
        client_frame(c.OPCODE_BINARY, b"abc")[:-1],  # incomplete
    ):
        events.clear()
        assert parse(run + stop, 0, 100, events) == len(run)
        assert events == ["héllo", b"\x00"]
    assert parse(b"xx" + run, 2, 100, events) == len(run) + 2


class _FrameByFrame(Connection):
    """The plain core with every frame through the frame path (no shortcuts)."""

    __slots__ = ()
    frame_by_frame = True


_CLOSE_BODIES = st.one_of(
    st.sampled_from([b"", b"\x03", b"\x03\xe8", b"\x03\xe8bye", b"\x03\xed", b"\x0b\xb8\xff"]),
    st.binary(max_size=125),
    st.builds(
        lambda code, reason: close_body(code, reason.encode()[:123]),
        st.integers(0, 65535),
        st.text(),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    before=st.sampled_from([b"", client_frame(c.OPCODE_TEXT, b"a", fin=False)]),
    body=_CLOSE_BODIES,
    rsv=st.sampled_from([0, 0, 0, 4]),
    cut=st.integers(min_value=1, max_value=140),
)
def test_a_close_frame_gives_the_frame_paths_events(
    before: bytes, body: bytes, rsv: int, cut: int
) -> None:
    """A whole masked Close is taken without the frame path's bookkeeping: for
    any body (valid, a reserved code, bad UTF-8, one byte, 125 bytes), after a
    fragment or not, cut anywhere, the events, the failure and the state are
    the frame path's."""
    wire = before + client_frame(c.OPCODE_CLOSE, body, rsv=rsv) + client_frame(c.OPCODE_TEXT, b"z")

    def run(core: Connection) -> tuple[object, ...]:
        events = core.receive_data(wire[:cut]) + core.receive_data(wire[cut:])
        shown = [(type(e).__name__, e.close_code) if isinstance(e, Failure) else e for e in events]
        return (shown, core.state, core.close_received)

    assert run(Connection()) == run(_FrameByFrame())
