"""HyBi 08, and HyBi 00 (hixie-76) behind its opt-in flag, over real sockets.

The HyBi 00 client here is written from the draft
(draft-ietf-hybi-thewebsocketprotocol-00): it computes the challenge response
itself and speaks 0x00 ... 0xFF framing.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from collections.abc import Callable
from pathlib import Path

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.rawclient import RawWebSocket

HANDLERS = Path(__file__).resolve().parent / "handlers"
Start = Callable[..., ThreadedServer]

# The draft's worked example (section 1.3 / 5.2).
KEY1 = "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
KEY2 = "1_ tx7X d  <  nw  334J702) 7]o}` 0"
KEY3 = b"Tm[K T2u"
EXPECTED = b"fQJ,fN/4F4!~K~MH"


def draft_challenge(key1: str, key2: str, key3: bytes) -> bytes:
    """The draft's algorithm, step by step: digits / spaces, big-endian, MD5."""
    parts = []
    for key in (key1, key2):
        digits = int("".join(ch for ch in key if ch.isdigit()))
        spaces = key.count(" ")
        parts.append(struct.pack(">I", digits // spaces))
    return hashlib.md5(b"".join(parts) + key3).digest()


def hybi00_handshake(
    port: int, path: str = "/hybi", protocol: str | None = "sample"
) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [
        f"GET {path} HTTP/1.1",
        "Upgrade: WebSocket",
        "Connection: Upgrade",
        f"Host: 127.0.0.1:{port}",
        "Origin: http://example.com",
        f"Sec-WebSocket-Key1: {KEY1}",
        f"Sec-WebSocket-Key2: {KEY2}",
    ]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + KEY3)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return sock, data


def read_hybi00_frame(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\xff" not in buf[1:] and not buf.startswith(b"\xff\x00"):
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        buf += chunk
    if buf.startswith(b"\xff\x00"):
        del buf[:2]
        return b"CLOSE"
    assert buf[0] == 0
    end = buf.index(b"\xff")
    frame = bytes(buf[1:end])
    del buf[: end + 1]
    return frame


def test_the_draft_example_by_its_own_algorithm() -> None:
    assert draft_challenge(KEY1, KEY2, KEY3) == EXPECTED


def test_hybi00_is_refused_without_the_flag(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    sock, data = hybi00_handshake(server.server_port)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"Sec-WebSocket-Version: 13, 8" in data


def test_hybi00_handshake_echo_and_close(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), allow_hybi00=True)
    port = server.server_port
    sock, data = hybi00_handshake(port)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 101 WebSocket Protocol Handshake"
    assert b"Upgrade: WebSocket" in head and b"Connection: Upgrade" in head
    assert b"Sec-WebSocket-Origin: http://example.com" in head
    assert f"Sec-WebSocket-Location: ws://127.0.0.1:{port}/hybi".encode() in head
    assert b"Sec-WebSocket-Protocol: sample" in head
    while len(rest) < 16:
        rest += sock.recv(4096)
    assert rest[:16] == EXPECTED
    buf = bytearray(rest[16:])
    assert (
        read_hybi00_frame(sock, buf)
        == (
            f"version=0 origin=http://example.com location=ws://127.0.0.1:{port}/hybi "
            "protocol=sample"
        ).encode()
    )
    assert read_hybi00_frame(sock, buf) == b"binary refused"
    sock.sendall(b"\x00h\xc3\xa9llo\xff")
    assert read_hybi00_frame(sock, buf) == "héllo".encode()
    sock.sendall(b"\xff\x00")  # the closing handshake
    assert read_hybi00_frame(sock, buf) == b"CLOSE"
    sock.settimeout(5)
    assert sock.recv(10) == b""  # and the server closes TCP
    sock.close()


def test_hybi00_invalid_utf8_closes(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), allow_hybi00=True)
    sock, data = hybi00_handshake(server.server_port, protocol=None)
    assert data.startswith(b"HTTP/1.1 101 ")
    sock.sendall(b"\x00\xc3\x28\xff")  # 0xC3 0x28 is not UTF-8
    sock.settimeout(5)
    received = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    assert received.endswith(b"\xff\x00")
    sock.close()


def test_hybi00_bad_key_is_400(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS), allow_hybi00=True)
    sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    sock.sendall(
        b"GET /hybi HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        b"Host: x\r\nSec-WebSocket-Key1: 123\r\nSec-WebSocket-Key2: 1 2\r\n\r\n" + KEY3
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
    sock.close()


def test_hybi08_handshake_echo_and_close(start_server: Start) -> None:
    server = start_server(websock_handlers=str(HANDLERS))
    with RawWebSocket(server.server_port) as ws:
        ws.upgrade(
            "/hybi",
            {
                "Sec-WebSocket-Version": "8",
                "Origin": "",
                "Sec-WebSocket-Origin": "http://old.example",
            },
        )
        status, headers, _ = ws.read_head()
        assert status == 101
        assert ws.read_frame() == (
            1,
            b"version=8 origin=http://old.example location=None protocol=None",
        )
        assert ws.read_frame() == (2, b"\x01")
        assert ws.read_frame() == (1, b"binary sent")
        ws.send_text("eight")
        assert ws.read_frame() == (1, b"eight")
        ws.send_close(1000)
        assert ws.read_frame() == (8, b"\x03\xe8")
