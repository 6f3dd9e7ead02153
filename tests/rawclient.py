"""A tiny raw-socket WebSocket client for probing httpd byte for byte.

Deliberately independent of the package under test: it sends exactly the
bytes we choose and reports exactly the bytes the server sends back,
including anything after the closing handshake and whether (and when) the
server closed TCP.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode()


def masked_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWebSocket:
    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        receive_buffer: int | None = None,
    ) -> None:
        """``receive_buffer`` sets SO_RCVBUF before connecting, so that the window is
        small from the first segment (shrinking it after the connect leaves the window
        already offered larger than the buffer: the kernel then drops the server's
        segments, ACKs included, and TCP backs off for seconds)."""
        if receive_buffer is None:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        self.buf = b""
        self.port = port

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP -------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self, target: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def upgrade(self, target: str, extra: dict[str, str] | None = None) -> tuple[str, str]:
        """Send an RFC 6455 upgrade request; return (key, expected accept)."""
        key = base64.b64encode(os.urandom(16)).decode()
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
            "Origin": "http://127.0.0.1",
        }
        headers.update(extra or {})
        self.request(target, headers)
        return key, accept_for(key)

    def read_head(self) -> tuple[int, dict[str, str], bytes]:
        """Read an HTTP response head: (status, lower-cased headers, raw head)."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed before the response head; got {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers, head + b"\r\n\r\n"

    def read_body(self, length: int) -> bytes:
        return self.read_exact(length)

    # -- frames -----------------------------------------------------------

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed with {len(self.buf)}/{n} bytes")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_frame(self) -> tuple[int, bytes]:
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.read_exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.read_exact(8))
        if b1 & 0x80:
            raise AssertionError("server frames must not be masked")
        return b0 & 0x0F, self.read_exact(n)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        self.send(masked_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode("utf-8"))

    def send_close(self, code: int = 1000, reason: bytes = b"") -> None:
        self.send_frame(0x8, struct.pack("!H", code) + reason)

    def drain_until_eof(self, timeout: float) -> tuple[bytes, float | None]:
        """Bytes the server still sends, and seconds until it closed (None: it didn't)."""
        self.sock.settimeout(timeout)
        start = time.monotonic()
        extra, self.buf = self.buf, b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return extra, time.monotonic() - start
                extra += chunk
        except TimeoutError:
            return extra, None
        except ConnectionResetError:
            return extra, time.monotonic() - start


def opened(
    port: int,
    target: str = "/echo",
    extra: dict[str, str] | None = None,
    *,
    receive_buffer: int | None = None,
    timeout: float = 10.0,
) -> RawWebSocket:
    """A connection to ``target`` upgraded to WebSocket (the 101 asserted)."""
    ws = RawWebSocket(port, timeout=timeout, receive_buffer=receive_buffer)
    try:
        ws.upgrade(target, extra)
        status, _, head = ws.read_head()
        assert status == 101, head
    except BaseException:
        ws.close()
        raise
    return ws
