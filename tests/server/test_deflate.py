"""permessage-deflate over real connections: negotiation, handler control, limits."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket

HANDLERS = Path(__file__).resolve().parent / "handlers"
Start = Callable[..., ThreadedServer]


def test_websockets_client_negotiates_and_echoes(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    with connect(f"ws://127.0.0.1:{server.server_port}/echo") as ws:
        assert ws.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        for message in ("hello", "x" * 100_000, b"\x00" * 70_000, "é" * 1000):
            ws.send(message)
            assert ws.recv() == message


def test_no_context_takeover_both_ways(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True
    )
    with connect(f"ws://127.0.0.1:{server.server_port}/echo", extensions=[factory]) as ws:
        header = ws.response.headers["Sec-WebSocket-Extensions"]
        assert "server_no_context_takeover" in header
        assert "client_no_context_takeover" in header
        for _ in range(3):
            ws.send("repeat " * 100)
            assert ws.recv() == "repeat " * 100


def test_handler_refuses_compression(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    with connect(f"ws://127.0.0.1:{server.server_port}/nodeflate") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        ws.send("plain")
        assert ws.recv() == "plain"


def test_handler_tunes_the_processor(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    with connect(f"ws://127.0.0.1:{server.server_port}/deflatectl") as ws:
        header = ws.response.headers["Sec-WebSocket-Extensions"]
        assert "client_max_window_bits=10" in header
        assert "client_no_context_takeover" in header
        assert ws.recv() == "deflate=True extensions=['permessage-deflate']"


def test_server_wide_switch_off(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), enable_deflate=False)
    with connect(f"ws://127.0.0.1:{server.server_port}/deflatectl") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert ws.recv() == "deflate=False extensions=[]"


def test_malformed_extension_header_is_400(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade("/echo", {"Sec-WebSocket-Extensions": "permessage-deflate; =="})
        assert ws.read_head()[0] == 400


def test_compression_level_zero_still_interoperates(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), compression_level=0)
    with connect(f"ws://127.0.0.1:{server.server_port}/echo") as ws:
        ws.send("stored " * 50)
        assert ws.recv() == "stored " * 50


def test_decompression_bomb_closes_with_1009(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), max_message_size=1024 * 1024)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(bytes(64 * 1024 * 1024)) + deflater.flush(zlib.Z_SYNC_FLUSH)[:-4]
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade("/echo", {"Sec-WebSocket-Extensions": "permessage-deflate"})
        status, headers, _ = ws.read_head()
        assert status == 101 and headers["sec-websocket-extensions"] == "permessage-deflate"
        frame = bytearray(ws_frame_rsv1(bomb))
        ws.send(bytes(frame))
        opcode, payload = ws.read_frame()
        assert opcode == 8 and struct.unpack("!H", payload[:2])[0] == 1009


def ws_frame_rsv1(payload: bytes) -> bytes:
    """A masked binary frame with RSV1 (compressed) set."""
    from tests.rawclient import masked_frame

    frame = bytearray(masked_frame(0x2, payload))
    frame[0] |= 0x40
    return bytes(frame)
