"""The asyncio engine's Python per handshake, with the sockets taken away.

The real server objects (AioServer, its _Channel, the bench's async echo
handler) over a transport that takes writes and drops them: each connection
gets the bench's request head, answers 101, gets a masked Close and answers
it. What is left is the Python a handshake costs, without the kernel, so a
change to the handshake path is measured in microseconds rather than in a
noisy handshakes/s figure.

    python bench/handshake_cpu.py            # µs per handshake (best of 3)
    python bench/handshake_cpu.py --stages   # and the time spent in each stage
    python bench/handshake_cpu.py --profile  # cProfile, by own time

Run it with the repository's environment (``.venv/bin/python``); pin it to a
core (``taskset -c 0``) for steadier figures. Not a test: nothing is asserted
but that every connection ended.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import logging
import os
import pstats
import time
from collections.abc import Callable
from typing import Any

from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server import aio
from mod_pywebsocket.server import session as server_session
from mod_pywebsocket.session import http1

HERE = os.path.dirname(os.path.abspath(__file__))
HEAD = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
MASK = b"\x01\x02\x03\x04"
CLOSE = b"\x88\x82" + MASK + bytes((0x03 ^ MASK[0], 0xE8 ^ MASK[1]))
PAUSES = 9  # loop iterations given to each connection


class NullTransport:
    """What the channel calls on a transport; writes are counted and dropped."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        self.protocol = protocol
        self.closing = False
        self.written = 0

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 9000)}
        return extra.get(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    abort = close

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def handshakes(server: aio.AioServer, count: int) -> float:
    """Seconds per handshake, the harness's own pauses included."""
    loop = asyncio.get_running_loop()
    server._loop = loop
    started = time.perf_counter()
    for _ in range(count):
        channel = aio._Channel(server._accept, None, loop)
        channel.connection_made(NullTransport(channel))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        channel.data_received(HEAD)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        channel.data_received(CLOSE)
        for _ in range(PAUSES - 3):
            await asyncio.sleep(0)
    return (time.perf_counter() - started) / count


async def pauses(count: int) -> float:
    """Seconds per connection of the harness alone (its pauses, nothing served)."""
    started = time.perf_counter()
    for _ in range(count):
        for _ in range(PAUSES):
            await asyncio.sleep(0)
    return (time.perf_counter() - started) / count


def timed(owner: Any, name: str, label: str, totals: collections.Counter[str]) -> None:
    """Wrap ``owner.name`` so that its calls add their time to ``totals[label]``."""
    function: Callable[..., Any] = getattr(owner, name)
    clock = time.perf_counter_ns

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += clock() - start

    setattr(owner, name, wrapper)


def stages(totals: collections.Counter[str]) -> None:
    """The stages --stages times: the handshake's synchronous steps."""
    timed(aio, "route", "route (checks, the Request)", totals)
    timed(aio, "negotiate", "negotiate (extra handshake, the 101, the core)", totals)
    timed(http1.RequestHeadReader, "feed", "the request head", totals)
    timed(server_session.StreamBase, "_received", "the Close frame's parse", totals)
    timed(server_session.StreamBase, "_close_locked", "the answering Close", totals)
    timed(aio._Channel, "connection_made", "connection_made", totals)
    timed(aio._Channel, "flush", "the channel's flushes", totals)
    timed(aio, "AsyncStream", "the stream object", totals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=20000)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stages", action="store_true", help="time each stage too")
    group.add_argument("--profile", action="store_true", help="cProfile, by own time")
    args = parser.parse_args()
    logging.getLogger("mod_pywebsocket").setLevel(logging.ERROR)
    options = ServerOptions(
        server_host="127.0.0.1",
        port=0,
        websock_handlers=os.path.join(HERE, "handlers_async"),
        enable_deflate=False,
        engine="asyncio",
        max_connections=100000,
    )
    server = aio.AioServer(options)
    loop = aio.event_loop_factory() or asyncio.new_event_loop
    runner = loop()
    try:
        runner.run_until_complete(handshakes(server, 2000))  # warm up
        totals: collections.Counter[str] = collections.Counter()
        if args.stages:
            stages(totals)
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            runner.run_until_complete(handshakes(server, args.count))
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            return 0
        each = min(runner.run_until_complete(handshakes(server, args.count)) for _ in range(3))
        alone = min(runner.run_until_complete(pauses(args.count)) for _ in range(3))
        if server._connections:
            raise SystemExit(f"{len(server._connections)} connections did not end")
        print(
            f"{(each - alone) * 1e6:.1f} us of Python per handshake "
            f"({each * 1e6:.1f} with the harness's {alone * 1e6:.1f})"
        )
        for label, total in totals.most_common():
            print(f"  {total / args.count / 3000:6.2f} us  {label}")
        if totals:
            print("  (each timed call adds about 0.15 us of its own)")
    finally:
        runner.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
