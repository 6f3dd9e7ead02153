"""A small RFC 8441 client on ``h2`` (client_side=True) over a socket, for the tests.

Single-threaded: :meth:`H2Client.pump` reads the socket and files each event
under its stream until a condition holds. A stream can be *stalled*: its
DATA is never acknowledged (its flow-control window stays shut) while the
connection's window is still given back, as a browser does for a tab that
does not read.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
import zlib
from collections.abc import Callable

import h2.config
import h2.connection
import h2.events
import h2.settings

OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE = 0x1, 0x2, 0x8


def masked_frame(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class ClientStream:
    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id
        self.headers: dict[str, str] | None = None
        self.data = bytearray()
        self.ended = False
        self.reset: int | None = None

    @property
    def status(self) -> int | None:
        return None if self.headers is None else int(self.headers[":status"])

    def parse_frame(self) -> tuple[int, bool, bytes] | None:
        """(opcode, rsv1, payload) of the first whole frame in ``data``, consumed."""
        buf = self.data
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        assert not b1 & 0x80, "server frames must not be masked"
        n, at = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            (n,) = struct.unpack("!H", buf[2:4])
            at = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            (n,) = struct.unpack("!Q", buf[2:10])
            at = 10
        if len(buf) < at + n:
            return None
        payload = bytes(buf[at : at + n])
        del buf[: at + n]
        return b0 & 0x0F, bool(b0 & 0x40), payload


class H2Client:
    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.timeout = timeout
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.flush()
        self.streams: dict[int, ClientStream] = {}
        self.settings: dict[int, int] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.eof = False
        self.stalled: set[int] = set()
        self.log: list[tuple[float, str, int]] = []  # (time, kind, stream id) as events came

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, until: Callable[[], bool], timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while not until():
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                raise TimeoutError("the condition did not come true")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.eof = True
                continue
            for event in self.conn.receive_data(data):
                self._on_event(event)
            self.flush()

    def _on_event(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", 0) or 0
        self.log.append((time.monotonic(), type(event).__name__, sid))
        stream = self.streams.get(sid)
        if isinstance(event, h2.events.RemoteSettingsChanged):
            for code, changed in event.changed_settings.items():
                self.settings[int(code)] = changed.new_value
        elif isinstance(event, h2.events.ResponseReceived) and stream is not None:
            stream.headers = {n.decode(): v.decode() for n, v in event.headers}
        elif isinstance(event, h2.events.DataReceived):
            size = event.flow_controlled_length
            if stream is not None:
                stream.data += event.data
            if sid in self.stalled:
                if size:
                    self.conn.increment_flow_control_window(size)
            else:
                self.conn.acknowledge_received_data(size, sid)
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            stream.ended = True
        elif isinstance(event, h2.events.StreamReset) and stream is not None:
            stream.reset = int(event.error_code)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event
            # RFC 9113 6.8: streams up to last_stream_id go on after a GOAWAY (browsers
            # finish them); h2 would refuse every frame from here, so it is told so.
            if event.error_code == 0:
                self.conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN

    # --- WebSocket over a stream ------------------------------------------------------

    def wait_settings(self) -> None:
        self.pump(lambda: h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL in self.settings)

    def connect(
        self,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        version: str | None = "13",
        protocol: str = "websocket",
        wait: bool = True,
        stalled: bool = False,
    ) -> ClientStream:
        """Send an extended CONNECT; with ``wait``, return once the response came;
        ``stalled``: never acknowledge the stream's DATA (see :attr:`stalled`)."""
        self.wait_settings()
        sid = self.conn.get_next_available_stream_id()
        fields = [
            (":method", "CONNECT"),
            (":protocol", protocol),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
        ]
        if version is not None:
            fields.append(("sec-websocket-version", version))
        fields += headers or []
        stream = self.streams[sid] = ClientStream(sid)
        if stalled:
            self.stalled.add(sid)
        self.conn.send_headers(sid, [(n.encode(), v.encode()) for n, v in fields])
        self.flush()
        if wait:
            self.pump(lambda: stream.headers is not None or stream.reset is not None)
        return stream

    def request(self, method: str, path: str) -> ClientStream:
        """A plain GET or HEAD, answered whole."""
        self.wait_settings()
        sid = self.conn.get_next_available_stream_id()
        stream = self.streams[sid] = ClientStream(sid)
        self.conn.send_headers(
            sid,
            [
                (b":method", method.encode()),
                (b":scheme", b"http"),
                (b":path", path.encode()),
                (b":authority", b"localhost"),
            ],
            end_stream=True,
        )
        self.flush()
        self.pump(lambda: stream.ended or stream.reset is not None)
        return stream

    def send_frame(
        self, stream: ClientStream, opcode: int, payload: bytes, rsv1: bool = False
    ) -> None:
        self.send_data(stream, masked_frame(opcode, payload, rsv1=rsv1))

    def send_data(self, stream: ClientStream, data: bytes) -> None:
        """DATA within the frame size and the server's flow-control windows."""
        sid = stream.stream_id
        while data:
            self.pump(lambda: self.conn.local_flow_control_window(sid) > 0)
            n = min(
                len(data),
                self.conn.local_flow_control_window(sid),
                self.conn.max_outbound_frame_size,
            )
            self.conn.send_data(sid, data[:n])
            self.flush()
            data = data[n:]

    def send_text(self, stream: ClientStream, text: str) -> None:
        self.send_frame(stream, OPCODE_TEXT, text.encode())

    def send_close(self, stream: ClientStream, code: int = 1000) -> None:
        self.send_frame(stream, OPCODE_CLOSE, struct.pack("!H", code))

    def read_frame(
        self, stream: ClientStream, timeout: float | None = None
    ) -> tuple[int, bool, bytes]:
        found: list[tuple[int, bool, bytes]] = []

        def ready() -> bool:
            if not found:
                frame = stream.parse_frame()
                if frame is not None:
                    found.append(frame)
            return bool(found)

        self.pump(ready, timeout)
        return found[0]

    def read_message(self, stream: ClientStream) -> str | bytes:
        opcode, _, payload = self.read_frame(stream)
        assert opcode in (OPCODE_TEXT, OPCODE_BINARY), (opcode, payload)
        return payload.decode() if opcode == OPCODE_TEXT else payload

    def close_websocket(self, stream: ClientStream) -> tuple[int, bytes]:
        """Our Close, the server's answer and its END_STREAM, then ours."""
        self.send_close(stream)
        opcode, _, payload = self.read_frame(stream)
        self.pump(lambda: stream.ended)
        self.conn.end_stream(stream.stream_id)
        self.flush()
        return opcode, payload


def deflate_message(data: bytes) -> bytes:
    """permessage-deflate (RFC 7692 7.2.1): a raw deflate block without its tail."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate_message(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")
