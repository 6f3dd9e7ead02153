"""An HTTP/1.1-to-HTTP/2 tunnel: any RFC 6455 client reaches the server's RFC 8441 path.

Each TCP connection accepted here gets its own HTTP/2 connection to the server
(cleartext, prior knowledge: the server runs with ``--http2``). A WebSocket
upgrade becomes an extended CONNECT (``:protocol websocket``), the server's
``:status 200`` becomes ``101 Switching Protocols`` with the Sec-WebSocket-Accept
computed from the client's key (the authority names the server's port, as
a client connecting to it directly would), and from then on the client's bytes go out as
DATA on that stream and the stream's DATA comes back as bytes, untouched: the
frames the client sees are the frames the server's core wrote. A refused
CONNECT and a plain request come back as an HTTP/1.1 response with the same
status, headers and body. The end of the stream closes the client's
connection; a reset stream or a lost HTTP/2 connection cuts it (as the server
cutting TCP would over HTTP/1.1); the client closing its side ends the stream.

So suites written for HTTP/1.1 (Autobahn through kosoku, the handler-API
suite) run unchanged over HTTP/2:

    python -m tests.http2.tunnel --server 127.0.0.1:8880 --port 9000

What cannot cross: bytes of the HTTP/1.1 handshake itself (a handler's own
101, HyBi 00, headers HTTP/2 forbids), which tests mark as HTTP/1.1-only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

HEAD_LIMIT = 65536
READ_SIZE = 65536
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Hop-by-hop and HTTP/1.1-only fields never go into an HTTP/2 request (RFC 9113 8.2.2,
# RFC 8441 4: no Sec-WebSocket-Key, Upgrade or Connection on a CONNECT).
_NOT_FORWARDED = {
    b"connection",
    b"upgrade",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"host",
    b"sec-websocket-key",
    b"te",
}
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    426: "Upgrade Required",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key.strip() + _GUID).digest())


class _Head:
    """The client's HTTP/1.1 request head."""

    def __init__(self, raw: bytes) -> None:
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            raise ValueError("bad request line")
        self.method, self.target, self.version = parts
        self.fields: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError("bad header line")
            self.fields.append((name.strip().lower(), value.strip()))

    def get(self, name: bytes) -> bytes | None:
        for field, value in self.fields:
            if field == name:
                return value
        return None

    def is_websocket(self) -> bool:
        upgrade = self.get(b"upgrade") or b""
        return self.method == b"GET" and b"websocket" in upgrade.lower()


class _Leg:
    """One client connection and its HTTP/2 connection to the server."""

    def __init__(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        server: tuple[str, int],
    ) -> None:
        self.client_reader, self.client_writer = client_reader, client_writer
        self.server = server
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.stream_id = 0
        self.response: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] | None = None
        self.body = bytearray()
        self.ended = asyncio.Event()
        self.reset = False
        self.settings = asyncio.Event()
        self.window = asyncio.Event()
        self.open = True
        self.tunnelled = False

    async def run(self) -> None:
        try:
            raw = await self.client_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            self.client_writer.close()
            return
        try:
            head = _Head(raw[:-4])
        except ValueError:
            self.client_writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.client_writer.close()
            return
        try:
            reader, self.writer = await asyncio.open_connection(*self.server)
        except OSError:
            self.client_writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            self.client_writer.close()
            return
        self.conn.initiate_connection()
        self.flush()
        pump = asyncio.create_task(self.pump(reader))
        try:
            await self.exchange(head)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            for writer in (self.writer, self.client_writer):
                if self.reset:
                    writer.transport.abort()
                else:
                    writer.close()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    async def pump(self, reader: asyncio.StreamReader) -> None:
        """The server's HTTP/2 bytes, turned into events for this leg."""
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except ConnectionError:
                data = b""
            if not data:
                self.lost()
                return
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                self.lost()
                return
            for event in events:
                self.on_event(event)
            self.flush()
            # The client's socket takes the stream's bytes before more are read.
            with contextlib.suppress(ConnectionError):
                await self.client_writer.drain()

    def lost(self) -> None:
        if not self.ended.is_set():
            self.reset = True
        self.fail_response()
        self.ended.set()
        self.window.set()
        self.settings.set()

    def fail_response(self) -> None:
        if self.response is not None and not self.response.done():
            self.response.set_exception(ConnectionError("the stream was reset"))

    def on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.settings.set()
        elif isinstance(event, h2.events.ResponseReceived):
            if event.stream_id == self.stream_id and self.response is not None:
                headers = list(event.headers)
                status = int(dict(headers)[b":status"])
                self.response.set_result((status, headers))
        elif isinstance(event, h2.events.DataReceived):
            if event.stream_id == self.stream_id:
                if self.tunnelled:
                    if not self.client_writer.is_closing():
                        self.client_writer.write(event.data)
                else:
                    self.body += event.data
            # Acknowledged once read: the client's socket is the backpressure (pump drains).
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            if event.stream_id == self.stream_id:
                self.ended.set()
        elif isinstance(event, h2.events.StreamReset):
            # A reset after the stream's end only closes the client's half (RFC 9113 8.1).
            if event.stream_id == self.stream_id and not self.ended.is_set():
                self.reset = True
                self.fail_response()
                self.ended.set()
        elif isinstance(event, h2.events.WindowUpdated):
            self.window.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            if event.last_stream_id is None or event.last_stream_id < self.stream_id:
                self.lost()

    async def exchange(self, head: _Head) -> None:
        await self.settings.wait()
        self.stream_id = self.conn.get_next_available_stream_id()
        # The authority a client connecting to the server itself would send: the
        # client's host name with the server's port (handlers compare it to theirs).
        host = (head.get(b"host") or b"localhost").rsplit(b":", 1)[0]
        authority = b"%s:%d" % (host, self.server[1])
        websocket = head.is_websocket()
        if websocket:
            fields = [
                (b":method", b"CONNECT"),
                (b":protocol", b"websocket"),
                (b":scheme", b"http"),
                (b":path", head.target),
                (b":authority", authority),
            ]
        else:
            fields = [
                (b":method", head.method),
                (b":scheme", b"http"),
                (b":path", head.target),
                (b":authority", authority),
            ]
        fields += [(n, v) for n, v in head.fields if n not in _NOT_FORWARDED]
        length = int(head.get(b"content-length") or 0)
        body = await self.client_reader.readexactly(length) if length and not websocket else b""
        self.response = asyncio.get_running_loop().create_future()
        try:
            self.conn.send_headers(self.stream_id, fields, end_stream=not websocket and not body)
        except h2.exceptions.ProtocolError as exc:  # a field HTTP/2 cannot carry
            message = str(exc).encode()
            self.client_writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s"
                % (len(message), message)
            )
            return
        self.flush()
        if body:
            await self.send(body, end=True)
        try:
            status, headers = await self.response
        except ConnectionError:
            self.reset = True
            return
        if websocket and status == 200:
            self.tunnelled = True
            # DATA that came with the response headers, before the tunnel was open.
            self.client_writer.write(self.switching(head, headers) + bytes(self.body))
            await self.relay()
            return
        await self.ended.wait()
        if self.reset:
            return
        self.client_writer.write(self.answer(status, headers, bytes(self.body)))

    @staticmethod
    def switching(head: _Head, headers: list[tuple[bytes, bytes]]) -> bytes:
        lines = [
            b"HTTP/1.1 101 Switching Protocols",
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Accept: " + accept_for(head.get(b"sec-websocket-key") or b""),
        ]
        lines += [n + b": " + v for n, v in headers if not n.startswith(b":")]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    @staticmethod
    def answer(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
        reason = _REASONS.get(status, "Status").encode()
        lines = [b"HTTP/1.1 %d %s" % (status, reason)]
        lines += [
            n + b": " + v
            for n, v in headers
            if not n.startswith(b":") and n not in (b"content-length", b"connection")
        ]
        lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def relay(self) -> None:
        """The client's bytes up the stream until either side ends."""
        upstream = asyncio.create_task(self.upstream())
        ended = asyncio.create_task(self.ended.wait())
        await asyncio.wait({upstream, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not upstream.done():
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream
        if not ended.done():  # the client left first: wait (a little) for the stream's end
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended, 10)
        ended.cancel()
        with contextlib.suppress(ConnectionError):
            await self.client_writer.drain()

    async def upstream(self) -> None:
        while True:
            try:
                data = await self.client_reader.read(READ_SIZE)
            except ConnectionError:
                data = b""
            if not data:
                if not self.ended.is_set():
                    with contextlib.suppress(h2.exceptions.ProtocolError):
                        self.conn.end_stream(self.stream_id)
                        self.flush()
                return
            await self.send(data, end=False)

    async def send(self, data: bytes, end: bool) -> None:
        """DATA within the server's flow-control windows and frame size."""
        view = memoryview(data)
        while view:
            if self.ended.is_set():
                return
            try:
                room = min(
                    self.conn.local_flow_control_window(self.stream_id),
                    self.conn.max_outbound_frame_size,
                )
            except h2.exceptions.StreamClosedError:
                return
            if room <= 0:
                self.window.clear()
                await self.window.wait()
                continue
            chunk, view = view[:room], view[room:]
            try:
                self.conn.send_data(self.stream_id, bytes(chunk), end_stream=end and not view)
            except h2.exceptions.ProtocolError:
                return
            self.flush()
            await self.writer.drain()


class Tunnel:
    """The tunnel on its own loop thread: ``start()`` returns the port it listens on."""

    def __init__(self, server_host: str, server_port: int, host: str = "127.0.0.1") -> None:
        self.server = (server_host, server_port)
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.failures: list[BaseException] = []
        # Each leg's task, held here: the loop keeps only weak references to tasks,
        # and a leg whose client socket is paused (its window shut) and whose other
        # tasks wait on its own events was otherwise collected mid-message
        # ("Task was destroyed but it is pending", then "coroutine ignored
        # GeneratorExit" from run()'s finally: the client saw its TCP cut).
        self._legs: set[asyncio.Task[None]] = set()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._legs.add(task)
        try:
            await _Leg(reader, writer, self.server).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.transport.abort()
        except Exception as exc:  # a tunnel bug: kept for the tests to see
            self.failures.append(exc)
            writer.transport.abort()
        finally:
            self._legs.discard(task)

    async def serve(self, port: int = 0) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, self.host, port, limit=HEAD_LIMIT)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    def start(self) -> int:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="HOST:PORT of a --http2 server (h2c)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    args = parser.parse_args()
    host, _, port = args.server.rpartition(":")
    tunnel = Tunnel(host, int(port))

    async def announce() -> None:
        task = asyncio.create_task(tunnel.serve(args.port))
        while not tunnel.port:
            await asyncio.sleep(0.01)
        print(f"tunnel: 127.0.0.1:{tunnel.port} -> h2c {args.server}", flush=True)
        await task

    asyncio.run(announce())


if __name__ == "__main__":
    main()
