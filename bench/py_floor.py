"""The floor of the asyncio engine's design for the handshake scenarios.

A WebSocket server in a few lines of Python on uvloop that does what
ours-asyncio must do per connection and nothing more: it finds the
Sec-WebSocket-Key in the request head, answers 101 with the real
Sec-WebSocket-Accept, runs one asyncio Task per connection (the engine gives
every async handler one) that waits for the client's Close, answers it and
closes. No limits, no checks, no logging, no Request object: not a server
anyone should run, but what it costs is what the design costs, so what
ours-asyncio costs above it is its own code.

Usage: python bench/py_floor.py PORT (run from bench/.venv-peers, which has uvloop).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sys

import uvloop

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_1000 = b"\x88\x02\x03\xe8"


class Floor(asyncio.Protocol):
    __slots__ = ("transport", "head", "opened", "closed")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.head = b""
        self.opened = False
        self.closed: asyncio.Future[None] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        if self.opened:
            # A masked client frame: the opcode is in the first byte's low bits.
            if data and data[0] & 0x0F == 8 and not self.closed.done():
                self.closed.set_result(None)
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return
        key = b""
        for line in self.head[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.opened = True
        loop.create_task(self.session())
        rest = self.head[end + 4 :]
        if rest:
            self.data_received(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    async def session(self) -> None:
        await self.closed
        if not self.transport.is_closing():
            self.transport.write(CLOSE_1000)
            self.transport.close()


loop = uvloop.new_event_loop()
asyncio.set_event_loop(loop)
loop.run_until_complete(loop.create_server(Floor, "127.0.0.1", int(sys.argv[1]), backlog=1024))
loop.run_forever()
