"""The same handlers over HTTP/1.1 and HTTP/2 give the same frames (tests/api/handlers)."""

from __future__ import annotations

import dataclasses
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket

from .client import OPCODE_CLOSE, OPCODE_TEXT, H2Client
from .conftest import _options

API_HANDLERS = Path(__file__).resolve().parents[1] / "api" / "handlers"
Outcome = tuple[object, ...]


def _over_http1(port: int, target: str, frames: list[tuple[int, bytes]]) -> Outcome:
    with RawWebSocket(port) as ws:
        ws.upgrade(target)
        status, _, _ = ws.read_head()
        assert status == 101
        for opcode, payload in frames:
            ws.send_frame(opcode, payload)
        try:
            opcode, payload = ws.read_frame()
        except (EOFError, ConnectionResetError):
            return NO_CLOSE
        return (opcode, payload)


def _over_http2(port: int, target: str, frames: list[tuple[int, bytes]]) -> Outcome:
    with H2Client(port) as client:
        stream = client.connect(target)
        assert stream.status == 200
        for opcode, payload in frames:
            client.send_frame(stream, opcode, payload)
        client.pump(lambda: bool(stream.data) or stream.ended or stream.reset is not None)
        if not stream.data:
            return NO_CLOSE
        opcode, _, payload = client.read_frame(stream)
        return (opcode, payload)


NO_CLOSE: Outcome = ("no Close frame",)


def close(code: int, reason: bytes = b"") -> tuple[int, bytes]:
    return OPCODE_CLOSE, struct.pack("!H", code) + reason


def text(payload: bytes) -> list[tuple[int, bytes]]:
    return [(OPCODE_TEXT, payload)]


CASES: dict[str, tuple[str, list[tuple[int, bytes]], Outcome]] = {
    "bad_operation": ("/exceptions", text(b"bad_operation"), close(1011)),
    "invalid_frame": ("/exceptions", text(b"invalid_frame"), close(1002)),
    "unsupported": ("/exceptions", text(b"unsupported"), close(1003)),
    "invalid_utf8": ("/exceptions", text(b"invalid_utf8"), close(1007)),
    "terminated": ("/exceptions", text(b"terminated"), NO_CLOSE),
    "value_error": ("/exceptions", text(b"value_error"), NO_CLOSE),
    "abort": ("/exceptions", text(b"abort"), NO_CLOSE),
    "passive_code": ("/passive?code", [close(1000, b"bye")], close(4001, b"custom reply")),
    "passive_none": ("/passive?none", [close(1000)], (OPCODE_CLOSE, b"")),
    "passive_abort": ("/passive?abort", [close(1000)], NO_CLOSE),
    "bad_utf8_from_peer": ("/passive", text(b"\xff\xfe"), close(1007)),
}


@pytest.fixture(scope="module")
def api_server() -> Iterator[ThreadedServer]:
    server = ThreadedServer(
        dataclasses.replace(
            _options(), websock_handlers=str(API_HANDLERS), document_root=str(API_HANDLERS)
        )
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    server.close_connections(grace=2.0)


@pytest.mark.parametrize("transport", [_over_http1, _over_http2], ids=["http1", "http2"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_frames_over_both(
    api_server: ThreadedServer, case: str, transport: Callable[..., Outcome]
) -> None:
    target, frames, expected = CASES[case]
    assert transport(api_server.server_port, target, frames) == expected
