"""The frame trace behind ``--log-level debug``: one report a frame, same events."""

from __future__ import annotations

from mod_pywebsocket.protocol.connection import Connection, Ping
from mod_pywebsocket.protocol.trace import PREVIEW_BYTES, FrameTrace, TracedConnection
from tests.rawclient import masked_frame


def test_a_frame_split_over_reads_is_reported_once_with_a_bounded_preview() -> None:
    seen: list[FrameTrace] = []
    traced, plain = TracedConnection(seen.append), Connection()
    wire = masked_frame(0x2, bytes(range(100))) + masked_frame(0x9, b"hi")
    events = [e for i in range(0, len(wire), 7) for e in traced.receive_data(wire[i : i + 7])]
    expected = plain.receive_data(wire)
    assert [type(e) for e in events] == [type(e) for e in expected] == [bytes, Ping]
    assert events[0] == expected[0] == bytes(range(100))
    assert isinstance(events[1], Ping) and events[1].payload == b"hi"
    assert [(f.incoming, f.opcode, f.fin, f.masked, f.length) for f in seen] == [
        (True, 0x2, True, True, 100),
        (True, 0x9, True, True, 2),
    ]
    assert seen[0].preview == bytes(range(PREVIEW_BYTES))
    assert seen[0].describe().endswith("...")
    assert seen[1].describe() == "<- PING FIN,MASK len=2 b'hi'"


def test_whole_small_messages_in_one_read_are_reported_too() -> None:
    """The run of small whole messages that the C run parser takes off the
    plain core is reported frame by frame here, as every other frame."""
    seen: list[FrameTrace] = []
    traced = TracedConnection(seen.append)
    wire = masked_frame(0x1, b"hello") + masked_frame(0x2, b"\x00\x01") + masked_frame(0x1, b"")
    assert (
        traced.receive_data(wire) == Connection().receive_data(wire) == ["hello", b"\x00\x01", ""]
    )
    assert [f.describe() for f in seen] == [
        "<- TEXT FIN,MASK len=5 b'hello'",
        "<- BINARY FIN,MASK len=2 b'\\x00\\x01'",
        "<- TEXT FIN,MASK len=0 b''",
    ]


def test_outgoing_frames_are_reported_unmasked() -> None:
    seen: list[FrameTrace] = []
    client = TracedConnection(seen.append, mask_outgoing=True, require_mask=False)
    header, body = client.send_data(b"secret", binary=False, fin=False)
    assert body != b"secret" and header[1] & 0x80
    client.send_close(1001)
    assert [f.describe() for f in seen] == [
        "-> TEXT MASK len=6 b'secret'",
        "-> CLOSE FIN,MASK len=2 b'\\x03\\xe9'",
    ]
