"""RFC 8441 WebSockets over HTTP/2 (cleartext prior knowledge), end to end."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable

import h2.errors
import h2.settings
import pytest

from mod_pywebsocket.server.threaded import ThreadedServer

from .client import OPCODE_BINARY, OPCODE_CLOSE, OPCODE_TEXT, H2Client


def test_settings_enable_connect_protocol(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        client.wait_settings()
        assert client.settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] == 1


def test_echo_text_and_binary_then_closing_handshake(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/echo")
        assert stream.status == 200
        assert "sec-websocket-accept" not in (stream.headers or {})
        client.send_text(stream, "héllo")
        assert client.read_message(stream) == "héllo"
        client.send_frame(stream, OPCODE_BINARY, bytes(range(256)) * 300)
        assert client.read_message(stream) == bytes(range(256)) * 300
        opcode, payload = client.close_websocket(stream)
        assert (opcode, payload) == (OPCODE_CLOSE, struct.pack("!H", 1000))
        assert stream.ended and stream.reset is None


def test_unknown_resource_is_404(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/nothing-here")
        assert stream.status == 404
        client.pump(lambda: stream.ended)
        assert b"no WebSocket handler" in stream.data


def test_missing_or_wrong_version_is_400(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        for version in (None, "12"):
            stream = client.connect("/echo", version=version)
            assert stream.status == 400
            assert stream.headers is not None
            assert stream.headers["sec-websocket-version"] == "13, 8"


def test_http11_only_fields_and_other_protocols_are_400(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/echo", [("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")])
        assert stream.status == 400
        stream = client.connect("/echo", protocol="not-websocket")
        assert stream.status == 400


def test_extra_handshake_refusals(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        assert client.connect("/handshake?status401").status == 401
        assert client.connect("/handshake?value_error").status == 403
        aborted = client.connect("/handshake?abort")
        assert aborted.headers is None
        assert aborted.reset == h2.errors.ErrorCodes.CANCEL
        # The connection serves on after each refusal.
        assert client.connect("/echo").status == 200


def test_request_fields_and_subprotocol(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect(
            "/handshake?choose_protocol",
            [("sec-websocket-protocol", "chat, superchat"), ("origin", "http://example.test")],
        )
        assert stream.status == 200
        assert stream.headers is not None
        assert stream.headers["sec-websocket-protocol"] == "superchat"
        assert client.read_message(stream) == (
            "fields: /handshake?choose_protocol|CONNECT|HTTP/2|localhost|13|superchat|"
            "http://example.test"
        )
        client.close_websocket(stream)


def test_a_subprotocol_must_be_chosen(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/handshake", [("sec-websocket-protocol", "chat")])
        assert stream.status == 400


def test_extra_headers_and_early_raw_write(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/handshake?extra_headers")
        assert stream.headers is not None and stream.headers["x-extra"] == "yes"
        client.close_websocket(stream)
        # Bytes a handler writes in its extra handshake follow the 200.
        stream = client.connect("/handshake?write_first")
        assert stream.status == 200
        assert client.read_message(stream) == "early"
        assert client.read_message(stream).startswith("fields: ")


def test_connection_write_goes_into_data(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/raw")
        assert client.read_message(stream) == "hand-made"
        client.close_websocket(stream)


def test_many_websockets_on_one_connection(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        streams = [client.connect("/echo", wait=False) for _ in range(20)]
        client.pump(lambda: all(s.headers is not None for s in streams))
        assert {s.status for s in streams} == {200}
        for i, stream in enumerate(streams):
            client.send_text(stream, f"message {i}")
        for i, stream in enumerate(reversed(streams)):
            assert client.read_message(stream) == f"message {len(streams) - 1 - i}"
        for stream in streams:
            client.close_websocket(stream)


def test_a_stream_that_is_not_read_does_not_stall_the_others(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        flood = client.connect("/flood", stalled=True)
        assert flood.status == 200
        # The flood fills its 64 KiB window and its handler waits for a WINDOW_UPDATE.
        client.pump(lambda: len(flood.data) >= 65535 - 100)
        echo = client.connect("/echo")
        for i in range(50):
            client.send_text(echo, f"still here {i}")
            assert client.read_message(echo) == f"still here {i}"
        assert len(flood.data) <= 65535
        # Reading again lets the flood finish.
        client.stalled.discard(flood.stream_id)
        client.conn.acknowledge_received_data(len(flood.data), flood.stream_id)
        client.flush()
        for _ in range(64):
            assert client.read_frame(flood)[0] == OPCODE_BINARY
        assert client.read_message(flood) == "flood done"
        client.close_websocket(flood)
        client.close_websocket(echo)


def test_permessage_deflate(server: ThreadedServer) -> None:
    from .client import deflate_message, inflate_message

    with H2Client(server.server_port) as client:
        stream = client.connect(
            "/echo",
            [
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
                )
            ],
        )
        assert stream.headers is not None
        assert stream.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        text = "compress me " * 100
        client.send_frame(stream, OPCODE_TEXT, deflate_message(text.encode()), rsv1=True)
        opcode, rsv1, payload = client.read_frame(stream)
        assert opcode == OPCODE_TEXT and rsv1
        assert len(payload) < len(text)
        assert inflate_message(payload).decode() == text
        client.close_websocket(stream)


def test_rst_stream_ends_the_handler(
    server: ThreadedServer, access_lines: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with H2Client(server.server_port) as client:
        stream = client.connect("/hold")
        assert stream.status == 200
        client.send_text(stream, "one")
        client.conn.reset_stream(stream.stream_id, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        deadline = time.monotonic() + 5
        while not any('"/hold"' in line for line in access_lines) and (time.monotonic() < deadline):
            time.sleep(0.02)
        (line,) = [line for line in access_lines if '"/hold"' in line]
        # As on a dropped TCP connection: no Close frame, 1006 in the access line.
        assert " 200 1006 " in line
        (ended,) = [r.getMessage() for r in caplog.records if r.name == "tests.http2.hold"]
        assert ended.startswith("hold ended: ConnectionTerminatedException")
        assert "reset the stream (error code 8)" in ended
        # The connection and its other streams go on.
        assert client.connect("/echo").status == 200


def test_shutdown_sends_1001_on_each_stream_then_goaway(
    start_server: Callable[..., ThreadedServer],
) -> None:
    server = start_server()
    with H2Client(server.server_port) as client:
        streams = [client.connect("/echo") for _ in range(3)]
        server.shutdown()
        server.server_close()
        closer = threading.Thread(target=server.close_connections, kwargs={"grace": 3.0})
        closer.start()
        for stream in streams:
            opcode, _, payload = client.read_frame(stream)
            assert (opcode, payload[:2]) == (OPCODE_CLOSE, struct.pack("!H", 1001))
        client.pump(lambda: client.goaway is not None)
        assert client.goaway is not None
        assert client.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        closes = [t for t, kind, sid in client.log if kind == "DataReceived"]
        goaway = [t for t, kind, _ in client.log if kind == "ConnectionTerminated"]
        assert max(closes) <= goaway[0]
        # The streams finish their closing handshakes after the GOAWAY, then the
        # server ends the connection.
        for stream in streams:
            client.send_close(stream, 1001)
        client.pump(lambda: all(s.ended for s in streams))
        assert all(s.reset is None for s in streams)
        for stream in streams:
            client.conn.end_stream(stream.stream_id)
        client.flush()
        client.pump(lambda: client.eof)
        closer.join(5)
        assert not closer.is_alive()
        assert server.connection_count() == 0


def test_static_files(server: ThreadedServer) -> None:
    with H2Client(server.server_port) as client:
        page = client.request("GET", "/")
        assert page.status == 200
        assert page.headers is not None
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert bytes(page.data) == b"<p>hello over h2</p>\n"
        head = client.request("HEAD", "/index.html")
        assert head.status == 200 and not head.data
        assert head.headers is not None and head.headers["content-length"] == "21"
        assert client.request("GET", "/missing.html").status == 404
        assert client.request("GET", "/../conftest.py").status == 404
