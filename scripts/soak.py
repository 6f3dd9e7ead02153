#!/usr/bin/env python3
"""A bounded soak: mixed traffic against a server process, then check it is back to flat.

    python scripts/soak.py --minutes 3

Several client threads loop over a mix of clean sessions (echo, then close),
aborts (RST mid-frame, half-closed TCP, vanishing mid-handshake), protocol
errors, and large messages, for the given time. Then the clients stop and the
server's RSS, thread count and open descriptors (read from /proc) are compared
with their values after warm-up. Exits non-zero when one stayed up.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_round(port: int, rng: random.Random, counts: dict[str, int]) -> None:
    kind = rng.choice(["echo", "echo", "echo", "big", "rst", "half", "vanish", "bad"])
    try:
        if kind == "vanish":
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
            s.close()
        else:
            with RawWebSocket(port, timeout=10) as ws:
                ws.upgrade("/echo")
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
                    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    example = os.path.join(ROOT, "example")
    server = subprocess.Popen([sys.executable, "-m", "mod_pywebsocket.standalone", "-H",
                               "127.0.0.1", "-p", str(port), "-w", example, "-d", example,
                               "--log-level", "error", "--handshake-timeout", "3",
                               "--close-timeout", "2"])
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        counts: dict[str, int] = {}
        rng = random.Random(1)
        for _ in range(200):  # warm-up
            one_round(port, rng, counts)
        time.sleep(5)
        before = proc_status(server.pid)
        stop = time.monotonic() + args.minutes * 60
        started = time.monotonic()

        def client(seed: int) -> None:
            r = random.Random(seed)
            while time.monotonic() < stop:
                one_round(port, r, counts)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        peak = dict(before)
        while any(t.is_alive() for t in threads):
            time.sleep(2)
            now = proc_status(server.pid)
            peak = {k: max(peak[k], now[k]) for k in now}
            print(f"soak: {time.monotonic() - started:5.0f}s  rounds={sum(counts.values())} "
                  f"rss={now['VmRSS']}kB threads={now['Threads']} fds={now['fds']}", flush=True)
        for t in threads:
            t.join()
        time.sleep(5)  # let handshake and close timeouts expire
        after = proc_status(server.pid)
    finally:
        server.terminate()
        server.wait(15)
    rounds = sum(counts.values())
    print(f"\nsoak: {rounds} rounds in {args.minutes:g} min with {args.clients} clients: "
          + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print("soak: metric      before     peak    after")
    for key, unit in (("VmRSS", "kB"), ("Threads", ""), ("fds", "")):
        print(f"soak: {key:8} {before[key]:>8}{unit:2} {peak[key]:>6}{unit:2} "
              f"{after[key]:>6}{unit:2}")
    errors = {k: v for k, v in counts.items() if k.startswith("error:")}
    flat = (after["Threads"] <= before["Threads"] and after["fds"] <= before["fds"]
            and after["VmRSS"] <= before["VmRSS"] * 1.25 + 4096)
    if errors:
        print(f"soak: FAIL client-side errors: {errors}")
    if not flat:
        print("soak: FAIL resources did not return to their level after warm-up")
    return 0 if flat and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
