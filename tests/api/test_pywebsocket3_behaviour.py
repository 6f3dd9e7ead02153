"""Handler-visible behaviour that follows pywebsocket3 where RFC 6455 leaves a choice.

Suites written against pywebsocket3 compare bytes: the Close frame the server
sends when it fails a connection, the extension response header, the status
of a refused handshake. Every test here runs on both deployments unless it
needs a server option only the standalone server has.
"""

from __future__ import annotations

import contextlib
import dataclasses
import struct
import time
import zlib
from collections.abc import Iterator

import pytest

from mod_pywebsocket import standalone
from tests.rawclient import RawWebSocket, opened
from tests.serving import serving

from .conftest import HANDLERS, Deployment


def upgraded(port: int, target: str, extra: dict[str, str] | None = None) -> RawWebSocket:
    return opened(port, target, extra)


# --- the Close frame of a failed connection carries the code only ------------------------


def _unmasked_text(payload: bytes) -> bytes:
    return bytes((0x81, len(payload))) + payload


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x81\x82" + b"\x00\x00\x00\x00" + b"\xff\xfe", 1007),  # invalid UTF-8
        (_unmasked_text(b"hi"), 1002),  # RFC 6455 5.1: client frames are masked
        (b"\x83\x80" + b"\x00\x00\x00\x00", 1002),  # reserved opcode 3
        (b"\xc1\x80" + b"\x00\x00\x00\x00", 1002),  # RSV1 without an extension: RFC says 1002
    ],
)
def test_failure_close_frame_has_no_reason(deployment: Deployment, frame: bytes, code: int) -> None:
    with upgraded(deployment.port, "/compat?receive") as ws:
        ws.send(frame)
        opcode, payload = ws.read_frame()
        assert (opcode, payload) == (8, struct.pack("!H", code))


# --- permessage-deflate response parameters in pywebsocket3's order ----------------------


@pytest.mark.parametrize(
    "offer, response",
    [
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover",
        ),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
    ],
)
def test_deflate_response_parameter_order(
    deployment: Deployment, offer: str, response: str
) -> None:
    with RawWebSocket(deployment.port) as ws:
        ws.upgrade("/compat", {"Sec-WebSocket-Extensions": offer})
        status, headers, _ = ws.read_head()
        assert status == 101
        assert headers["sec-websocket-extensions"] == response


# --- headers_in lookups -------------------------------------------------------------------


def test_missing_header_reads_as_none(deployment: Deployment) -> None:
    with upgraded(deployment.port, "/compat?cookie") as ws:
        assert ws.read_frame() == (1, b"cookie: None")
    with upgraded(deployment.port, "/compat?cookie", {"Cookie": "a=b"}) as ws:
        assert ws.read_frame() == (1, b"cookie: 'a=b'")


# --- close_connection(1001) does not wait for the answer --------------------------------


def test_going_away_close_does_not_wait(standalone_server: standalone.WebSocketServer) -> None:
    """pywebsocket3 returns from close_connection(1001) (and 1002) at once; with a
    2 s close timeout, waiting for a client that never answers would take 2 s."""
    suite = standalone_server.dispatcher.get_handler_suite("/compat")
    assert suite is not None
    closes: list[float] = suite.transfer_data.__globals__["close_seconds"]
    before = len(closes)
    with upgraded(standalone_server.server_port, "/compat?going_away") as ws:
        assert ws.read_frame() == (8, struct.pack("!H", 1001))
        ws.drain_until_eof(5.0)  # the client never answers the Close
    deadline = time.monotonic() + 5
    while len(closes) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(closes) == before + 1 and closes[-1] < 1.0  # the close timeout is 2 s


# --- servers with their own options -------------------------------------------------------


@pytest.fixture
def start(tmp_path: object) -> Iterator[object]:
    with contextlib.ExitStack() as servers:

        def run(*flags: str) -> standalone.WebSocketServer:
            options, _ = standalone._parse_args_and_config(
                ["-H", "127.0.0.1", "-p", "0", "-w", str(HANDLERS), "-d", str(HANDLERS), *flags]
            )
            return servers.enter_context(serving(standalone.WebSocketServer(options), grace=1.0))

        yield run


def test_handshake_timeout_does_not_cut_the_handlers_hook(start: object) -> None:
    """The handshake timeout bounds reading the request head; a hook that stalls
    longer (WebKit's handshake-timeout tests) still gets its 101."""
    server = start("--handshake-timeout", "0.5")  # type: ignore[operator]
    started = time.monotonic()
    with upgraded(server.server_port, "/compat?stall1.5") as ws:
        assert time.monotonic() - started >= 1.5
        assert ws.read_frame() == (1, b"done")
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade("/compat?wait_for_byte")
        time.sleep(1.5)
        ws.send(b"x")  # what the hook waits for, long after the handshake timeout
        assert ws.read_head()[0] == 101
        assert ws.read_frame() == (1, b"done")


@pytest.mark.parametrize(
    "target",
    [
        "ws://other.example:{port}/compat",  # another host than -V
        "ws://localhost:1/compat",  # another port than -P
        "ws://localhost:99999/compat",  # no valid port
        "ws:///compat",  # no host
        "http://localhost:{port}/compat",  # not a WebSocket URI: no handler has that name
        "/nothing#frag",  # no handler: 404 before the fragment matters
    ],
)
def test_targets_that_name_no_handler_get_404(start: object, target: str) -> None:
    server = start("-V", "localhost", "-P", "0")  # type: ignore[operator]
    port = server.server_port
    server_options = dataclasses.replace(server.options, validation_port=port)
    server.options = server_options  # -P must name the real port, known only now
    with RawWebSocket(port) as ws:
        ws.upgrade(target.format(port=port))
        assert ws.read_head()[0] == 404


def test_absolute_target_naming_the_validation_host_is_served(start: object) -> None:
    server = start("-V", "localhost")  # type: ignore[operator]
    with upgraded(server.server_port, f"ws://localhost:{server.server_port}/compat") as ws:
        assert ws.read_frame() == (1, b"done")


def test_fragment_on_a_handler_is_400(deployment: Deployment) -> None:
    with RawWebSocket(deployment.port) as ws:
        ws.upgrade("/compat#frag")
        assert ws.read_head()[0] == 400


def test_location_and_six_in_older_handlers(deployment: Deployment) -> None:
    """An RFC 6455 request has no ws_location (WebKit's echo-location tests it
    with hasattr); build_location computes it; handlers may import six."""
    with upgraded(deployment.port, "/location?q=1") as ws:
        location = f"ws://127.0.0.1:{deployment.server_port}/location?q=1"
        assert ws.read_frame() == (1, location.encode())
        ws.send_text("hi")
        assert ws.read_frame() == (1, b"text")


# --- the closing handshake as pywebsocket3 waits for it ----------------------------------


def test_pings_are_answered_while_waiting_for_the_close(deployment: Deployment) -> None:
    with upgraded(deployment.port, "/compat?close_wait") as ws:
        assert ws.read_frame() == (8, struct.pack("!H", 1000))
        ws.send_frame(0x9, b"p")  # a Ping after the server's Close still gets its Pong
        assert ws.read_frame() == (0xA, b"p")
        ws.send_close(1000)
        assert ws.drain_until_eof(5.0)[1] is not None


def test_a_message_instead_of_the_close_drops_the_connection(
    standalone_server: standalone.WebSocketServer,
) -> None:
    """pywebsocket3's close_connection raises ConnectionTerminatedException when
    a data message arrives where the Close should, and the connection ends then,
    not after the close timeout (2 s here)."""
    suite = standalone_server.dispatcher.get_handler_suite("/compat")
    assert suite is not None
    outcomes: list[str] = suite.transfer_data.__globals__["close_outcomes"]
    before = len(outcomes)
    with upgraded(standalone_server.server_port, "/compat?close_wait") as ws:
        assert ws.read_frame() == (8, struct.pack("!H", 1000))
        ws.send_text("late")
        started = time.monotonic()
        extra, closed = ws.drain_until_eof(5.0)
        assert extra == b"" and closed is not None and time.monotonic() - started < 1.5
    assert outcomes[before:] == ["terminated"]


def test_raw_read_returns_what_has_arrived(deployment: Deployment) -> None:
    with upgraded(deployment.port, "/compat?raw_read") as ws:
        ws.send(b"abc")  # fewer than the 12 bytes the handler asks for
        assert ws.read_frame() == (1, b"read 3")


def test_compressed_messages_use_zlibs_default_level(deployment: Deployment) -> None:
    """pywebsocket3 compresses at zlib's default level; suites may compare the bytes."""
    text = ("a long and repetitive message, " * 20 + "with a different tail").encode()
    with RawWebSocket(deployment.port) as ws:
        ws.upgrade("/pyws3/echo3", {"Sec-WebSocket-Extensions": "permessage-deflate"})
        assert ws.read_head()[0] == 101
        ws.send_text(text.decode())  # sent uncompressed (RSV1 clear); the echo is compressed
        first = ws.read_exact(1)[0]
        ws.buf = bytes((first & 0x8F,)) + ws.buf
        _, payload = ws.read_frame()
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        expected = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert first & 0x40 and payload == expected[:-4]
        ws.send_text("")  # an empty message, with the context of the first
        first = ws.read_exact(1)[0]
        ws.buf = bytes((first & 0x8F,)) + ws.buf
        empty = compressor.compress(b"") + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert first & 0x40 and ws.read_frame() == (1, empty[:-4])


def test_a_ping_read_with_the_close_is_still_answered(deployment: Deployment) -> None:
    """A handler that reads nothing (WebKit's slow-reply sleeps, then sends): the
    Ping and the Close it receives after its own Close arrive in one read, and the
    Ping still gets its Pong, as pywebsocket3 answers frame by frame."""
    with upgraded(deployment.port, "/compat?close_wait") as ws:
        ws.send(
            b"".join(
                (
                    bytes((0x89, 0x81)) + b"\x00\x00\x00\x00" + b"p",  # Ping "p"
                    bytes((0x88, 0x82)) + b"\x00\x00\x00\x00" + struct.pack("!H", 1000),
                )
            )
        )
        frames = [ws.read_frame(), ws.read_frame()]
        assert frames == [(8, struct.pack("!H", 1000)), (0xA, b"p")]
