#!/usr/bin/env python3
"""A bounded soak: mixed traffic against a server process, then check it is back to flat.

    python scripts/soak.py --minutes 3
    python scripts/soak.py --engine asyncio                       # blocking handlers
    python scripts/soak.py --engine asyncio --handlers tests/conformance --path /
                                                                  # an async echo handler

Several client threads loop over a mix of clean sessions (echo, then close),
aborts (RST mid-frame, half-closed TCP, vanishing mid-handshake), protocol
errors, large messages, slow readers (they take a 256 KiB echo 4 KiB at a
time and must get all of it) and non-reading senders (they send until the
server stops reading and must then be cut within the send timeout), for the
given time. Then the clients stop and the server's RSS, thread count and open
descriptors (read from /proc) are compared with their values after a warm-up
of the same mix (20 s). Exits non-zero when one stayed up.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import struct
import sys
import threading
import time

from child_server import EXAMPLE, ROOT, free_port, start, wait_for_port

sys.path.insert(0, ROOT)

from tests.rawclient import RawWebSocket, masked_frame  # noqa: E402


def proc_status(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "Threads"):
                values[key] = int(rest.split()[0])
    values["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return values


SEND_TIMEOUT = 2.0  # the server's --send-timeout
ECHO_PATH = "/echo"  # the echo handler's path (--path)
WARMUP_SECONDS = 20.0
SETTLE_SECONDS = 12.0  # after each phase, before the figures are read
# How often each kind of round comes up; a stall takes the send timeout and more.
KINDS = {"echo": 6, "big": 2, "rst": 2, "half": 2, "vanish": 2, "bad": 2, "slow": 2, "stall": 1}


def small_buffer_client(port: int) -> RawWebSocket:
    """An upgraded echo client with a small receive buffer, so the server's sends block."""
    ws = RawWebSocket.__new__(RawWebSocket)
    ws.sock = socket.socket()
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    ws.sock.settimeout(10)
    ws.sock.connect(("127.0.0.1", port))
    ws.buf, ws.port = b"", port
    ws.upgrade(ECHO_PATH)
    if ws.read_head()[0] != 101:
        raise AssertionError("handshake failed")
    return ws


def slow_reader(port: int) -> None:
    """Take a 256 KiB echo 4 KiB at a time: slow, but progressing, so never cut."""
    with small_buffer_client(port) as ws:
        payload = os.urandom(256 * 1024)
        ws.send_frame(0x2, payload)
        expected = len(payload) + 10  # the frame header: 2 + 8 bytes
        while len(ws.buf) < expected:
            chunk = ws.sock.recv(4096)
            if not chunk:
                raise AssertionError("closed during a slow read")
            ws.buf += chunk
            time.sleep(0.002)
        if ws.read_frame() != (2, payload):
            raise AssertionError("slow echo mismatch")
        ws.send_close(1000)
        ws.read_frame()
        ws.drain_until_eof(5)


def stalled_sender(port: int) -> None:
    """Send to the echo without reading until the server stops reading; it must cut us."""
    with small_buffer_client(port) as ws:
        ws.sock.settimeout(0.5)
        frame = masked_frame(0x2, b"s" * 65536)
        try:
            while True:
                ws.sock.sendall(frame)
        except TimeoutError:  # the server's echo is stuck: it reads no more
            pass
        time.sleep(SEND_TIMEOUT + 1)  # still not reading: its send times out meanwhile
        _, closed_after = ws.drain_until_eof(5)  # cut: our buffered echo, then EOF or RST
        if closed_after is None:
            raise AssertionError("the server did not cut a peer that stopped reading")


def one_round(port: int, rng: random.Random, counts: dict[str, int]) -> None:
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    try:
        if kind == "slow":
            slow_reader(port)
        elif kind == "stall":
            stalled_sender(port)
        elif kind == "vanish":
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"GET {ECHO_PATH} HTTP/1.1\r\nHost: x\r\n".encode())
            s.close()
        else:
            with RawWebSocket(port, timeout=10) as ws:
                ws.upgrade(ECHO_PATH)
                if ws.read_head()[0] != 101:
                    raise AssertionError("handshake failed")
                if kind in ("echo", "big"):
                    size = 1 << 20 if kind == "big" else rng.randrange(1, 2000)
                    payload = os.urandom(size)
                    for _ in range(1 if kind == "big" else 10):
                        ws.send_frame(0x2, payload)
                        if ws.read_frame() != (2, payload):
                            raise AssertionError("echo mismatch")
                    ws.send_close(1000)
                    ws.read_frame()
                    ws.drain_until_eof(5)
                elif kind == "rst":
                    ws.send(masked_frame(0x2, b"x" * 4000)[:1000])
                    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif kind == "half":
                    ws.sock.shutdown(socket.SHUT_WR)
                    ws.drain_until_eof(5)
                else:  # a reserved opcode: the server must fail with 1002
                    ws.send(bytes([0x83, 0x80]) + b"mask")
                    opcode, payload = ws.read_frame()
                    if opcode != 8 or struct.unpack("!H", payload[:2])[0] != 1002:
                        raise AssertionError("expected close 1002")
        counts[kind] = counts.get(kind, 0) + 1
    except Exception as exc:  # noqa: BLE001 - counted and reported
        counts["error:" + type(exc).__name__] = counts.get("error:" + type(exc).__name__, 0) + 1


def main() -> int:
    global ECHO_PATH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--engine", choices=("threaded", "asyncio"), default="threaded")
    parser.add_argument("--handlers", default=EXAMPLE, help="the handler directory (-w)")
    parser.add_argument("--path", default=ECHO_PATH, help="the echo handler's path there")
    args = parser.parse_args()
    ECHO_PATH = args.path
    port = free_port()
    server = start(
        port,
        args.handlers,
        args.engine,
        "--handshake-timeout",
        "3",
        "--close-timeout",
        "2",
        "--send-timeout",
        str(SEND_TIMEOUT),
    )
    try:
        wait_for_port(port)
        counts: dict[str, int] = {}

        def run_clients(until: float, seed: int) -> dict[str, int]:
            """The clients' mix until ``until``; the server's peak figures meanwhile."""

            def client(n: int) -> None:
                r = random.Random(seed + n)
                while time.monotonic() < until:
                    one_round(port, r, counts)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            peak = proc_status(server.pid)
            while any(t.is_alive() for t in threads):
                time.sleep(2)
                now = proc_status(server.pid)
                peak = {k: max(peak[k], now[k]) for k in now}
                print(
                    f"soak: {time.monotonic() - started:5.0f}s  rounds={sum(counts.values())} "
                    f"rss={now['VmRSS']}kB threads={now['Threads']} fds={now['fds']}",
                    flush=True,
                )
            for t in threads:
                t.join()
            return peak

        # Warm-up: the same mix at the same concurrency, so the baseline holds the
        # steady working set (peers stalled mid-send, the C allocator's per-thread
        # arenas): the check below then sees growth, not the first seconds' filling.
        started = time.monotonic()
        run_clients(started + WARMUP_SECONDS, 1000)
        time.sleep(SETTLE_SECONDS)
        before = proc_status(server.pid)
        started = time.monotonic()
        peak = run_clients(started + args.minutes * 60, 0)
        # Let handshake and close timeouts expire, and the asyncio engine look
        # at its heap (server/heap.py: every 10 s) once the load has stopped.
        time.sleep(SETTLE_SECONDS)
        after = proc_status(server.pid)
    finally:
        server.terminate()
        server.wait(15)
    rounds = sum(counts.values())
    print(
        f"\nsoak: {rounds} rounds in {args.minutes:g} min (and {WARMUP_SECONDS:g} s of warm-up) "
        f"with {args.clients} clients on the {args.engine} engine: "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )
    print("soak: metric      before     peak    after")
    for key, unit in (("VmRSS", "kB"), ("Threads", ""), ("fds", "")):
        print(
            f"soak: {key:8} {before[key]:>8}{unit:2} {peak[key]:>6}{unit:2} {after[key]:>6}{unit:2}"
        )
    errors = {k: v for k, v in counts.items() if k.startswith("error:")}
    flat = (
        after["Threads"] <= before["Threads"]
        and after["fds"] <= before["fds"]
        and after["VmRSS"] <= before["VmRSS"] * 1.25 + 4096
    )
    if errors:
        print(f"soak: FAIL client-side errors: {errors}")
    if not flat:
        print("soak: FAIL resources did not return to their level after warm-up")
    return 0 if flat and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
