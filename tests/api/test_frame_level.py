"""Frame-level handler patterns of real suites, on both deployments.

Handlers in WebKit's, Chromium's and web-platform-tests' suites read single
frames with ``ws_stream._receive_frame`` (no message-layer checks), answer
Close and Ping themselves, assemble fragments with
``_get_message_from_frame``, write hand-made (often broken) frames with
``stream.create_header``, and tune permessage-deflate while the connection
runs. tests/api/handlers/frames_wsh.py does each, unchanged pywebsocket3 style.
"""

from __future__ import annotations

import os
import struct
import zlib

from tests.rawclient import RawWebSocket, masked_frame

from .conftest import Deployment


def connect(port: int, mode: str, extra: dict[str, str] | None = None) -> RawWebSocket:
    ws = RawWebSocket(port)
    ws.upgrade(f"/frames?{mode}", extra)
    status, headers, _ = ws.read_head()
    assert status == 101
    ws.headers = headers  # type: ignore[attr-defined]
    return ws


def raw_frame(first: int, payload: bytes) -> bytes:
    """A masked frame with the first byte as given (FIN, RSV bits, opcode)."""
    frame = masked_frame(first & 0x0F, payload)
    return bytes((first,)) + frame[1:]


def test_raw_frames_are_read_without_the_message_layer_checks(deployment: Deployment) -> None:
    with connect(deployment.port, "describe") as ws:
        ws.send(raw_frame(0x81, b"hi"))  # text, FIN
        assert ws.read_frame() == (1, b"1 1000 2")
        ws.send(raw_frame(0x01, b"frag"))  # text without FIN
        assert ws.read_frame() == (1, b"1 0000 4")
        ws.send(raw_frame(0xB2, b"x"))  # binary with RSV2+RSV3: no 1002 here
        assert ws.read_frame() == (1, b"2 1011 1")
        ws.send(raw_frame(0x83, b""))  # reserved opcode 3
        assert ws.read_frame() == (1, b"3 1000 0")
        ws.send(masked_frame(0x9, b"ping?"))
        assert ws.read_frame() == (0xA, b"ping?")  # the handler's own _send_pong
        ws.send(raw_frame(0x81, b"\xff\xfe"))  # invalid UTF-8 is just bytes here
        assert ws.read_frame() == (1, b"1 1000 2")
        ws.send_close(4001, b"bye")
        assert ws.read_frame() == (8, struct.pack("!H", 1000))  # the default passive answer


def test_receive_frame_tuple(deployment: Deployment) -> None:
    with connect(deployment.port, "tuple") as ws:
        ws.send(raw_frame(0x91, b"abc"))  # text with RSV3
        assert ws.read_frame() == (1, b"1 b'abc' 1 0 0 1")


def test_handler_assembles_fragments_and_answers_close(deployment: Deployment) -> None:
    with connect(deployment.port, "assemble") as ws:
        ws.send(
            raw_frame(0x01, b"hel") + masked_frame(0x0, b"lo", fin=False) + masked_frame(0x0, b"!")
        )
        assert ws.read_frame() == (1, b"hello!")
        big = os.urandom(70000)
        ws.send(raw_frame(0x82, big))
        assert ws.read_frame() == (2, big)
        ws.send_close(1000)
        assert ws.read_frame() == (8, struct.pack("!H", 1000))


def test_messages_then_raw_frames(deployment: Deployment) -> None:
    with connect(deployment.port, "message_then_frames") as ws:
        ws.send_text("first")
        assert ws.read_frame() == (1, b"got first")
        ws.send(raw_frame(0xA1, b"xy"))  # RSV2 set: only raw reads accept it
        assert ws.read_frame() == (1, b"1 1010 2")


def test_messages_pipelined_before_raw_frames(deployment: Deployment) -> None:
    """The message reader may have read past the message it returned; those
    frames come back from _receive_frame, in order."""
    with connect(deployment.port, "message_then_frames") as ws:
        ws.send(masked_frame(0x1, b"first") + masked_frame(0x2, b"second"))
        assert ws.read_frame() == (1, b"got first")
        assert ws.read_frame() == (1, b"2 1000 6")


def test_close_pipelined_after_a_message_comes_back_as_its_frame(deployment: Deployment) -> None:
    """A Close the message reader already parsed is handed to _receive_frame as the
    frame it came in: opcode 8, FIN, its 2-byte code and UTF-8 reason."""
    with connect(deployment.port, "message_then_payload") as ws:
        body = struct.pack("!H", 4000) + "bye é".encode()
        ws.send(masked_frame(0x1, b"first") + masked_frame(0x8, body))
        assert ws.read_frame() == (1, b"got first")
        assert ws.read_frame() == (1, b"8 1000 %d" % len(body))
        assert ws.read_frame() == (2, body)


def test_handmade_frames_reach_the_client_as_written(deployment: Deployment) -> None:
    with connect(deployment.port, "handmade") as ws:
        assert ws.read_exact(4) == b"\x83\x02ab"
        assert ws.read_exact(3) == b"\xa1\x01x"
        assert ws.read_exact(4) == b"\x89\x7e\x00\x7e" and ws.read_exact(126) == b"p" * 126
        assert ws.read_exact(9) == b"\x01\x03hel\x80\x02lo"


def test_deflate_processor_tuned_while_the_connection_runs(deployment: Deployment) -> None:
    offer = {"Sec-WebSocket-Extensions": "permessage-deflate"}
    with connect(deployment.port, "compression_toggle", offer) as ws:
        assert ws.headers["sec-websocket-extensions"] == "permessage-deflate"  # type: ignore[attr-defined]

        def send_compressed(text: bytes) -> None:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
            ws.send(raw_frame(0xC1, body[:-4]))

        def received() -> tuple[int, bytes]:
            first = ws.read_exact(1)[0]
            ws.buf = bytes((first & 0x8F,)) + ws.buf
            opcode, payload = ws.read_frame()
            return first & 0x40, payload

        send_compressed(b"on")
        rsv1, payload = received()
        inflater = zlib.decompressobj(-15)
        assert rsv1 and inflater.decompress(payload + b"\x00\x00\xff\xff") == b"on"
        send_compressed(b"off")
        assert received() == (0, b"off")  # compression switched off by the handler
        send_compressed(b"on")
        rsv1, payload = received()
        assert rsv1 and inflater.decompress(payload + b"\x00\x00\xff\xff") == b"on"
        send_compressed(b"bfinal")
        rsv1, payload = received()
        assert rsv1 and payload.endswith(b"\x00")  # a final block, then an empty one
        fresh = zlib.decompressobj(-15)
        assert fresh.decompress(payload) == b"bfinal" and fresh.eof


def test_close_body_processed_by_the_handler(deployment: Deployment) -> None:
    with connect(deployment.port, "close_body") as ws:
        ws.send_close(3000, b"why")
        assert ws.read_frame() == (8, struct.pack("!H", 1000))


def test_handler_sends_its_own_close_and_says_so(deployment: Deployment) -> None:
    """``request.server_terminated = True`` after a hand-made Close: the server
    sends no Close of its own and ends the connection."""
    with connect(deployment.port, "own_close") as ws:
        ws.send_close(1000)  # 6 bytes: header, mask, code
        assert ws.read_frame() == (8, struct.pack("!H", 1000) + b"\x88\x82")
        extra, closed = ws.drain_until_eof(5.0)
        assert extra == b"" and closed is not None


def test_handler_pretends_the_client_closed(deployment: Deployment) -> None:
    """``request.client_terminated = True``: the server sends its Close when the
    handler returns and does not wait for another from the client."""
    with connect(deployment.port, "pretend_client_closed") as ws:
        ws.send_close(1000)
        assert ws.read_frame() == (8, struct.pack("!H", 1000))
        extra, closed = ws.drain_until_eof(5.0)
        assert extra == b"" and closed is not None and closed < 3.0
