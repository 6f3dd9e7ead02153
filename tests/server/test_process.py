"""The command-line server as a process: signals, the shutdown bound, exhausted resources."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rawclient import RawWebSocket, masked_frame, opened

EXAMPLE = Path(__file__).resolve().parents[2] / "example"
HANDLERS = Path(__file__).resolve().parent / "handlers"


class ServerProcess:
    """``python -m mod_pywebsocket.standalone`` on a free port, its log in a file."""

    def __init__(self, tmp_path: Path, *args: str, nofile: int | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log_path = tmp_path / "server.log"
        command = [
            "-m",
            "mod_pywebsocket.standalone",
            "-H",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-w",
            str(EXAMPLE),
            "-d",
            str(EXAMPLE),
            "--log-level",
            "info",
            *args,
        ]
        if nofile is not None:  # a descriptor limit for the server alone
            command = [
                "-c",
                "import resource, runpy, sys; "
                f"resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile})); "
                f"sys.argv = ['mod_pywebsocket'] + {command[2:]!r}; "
                "runpy.run_module('mod_pywebsocket.standalone', run_name='__main__')",
            ]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, *command], stderr=log)
        deadline = time.monotonic() + 20
        while "serving" not in self.log():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def upgraded(self, path: str = "/echo") -> RawWebSocket:
        return opened(self.port, path)

    def signal_and_time_the_exit(self, limit: float) -> tuple[int | None, float]:
        """Send SIGTERM; (exit status or None when still running after ``limit``, seconds)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(limit)
        except subprocess.TimeoutExpired:
            status = None
        return status, time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[type[ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*args: str, nofile: int | None = None) -> ServerProcess:
        server = ServerProcess(tmp_path, *args, nofile=nofile)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.stop()


def test_sigterm_exits_within_the_grace_while_a_peer_sends_without_reading(
    server_process: type[ServerProcess],
) -> None:
    server = server_process("--shutdown-grace", "2")  # the send timeout stays at 60 s
    ws = server.upgraded()
    ws.sock.settimeout(0.5)
    frame = masked_frame(0x2, b"x" * 65536)
    with pytest.raises(TimeoutError):  # /echo answers into a window nobody reads
        while True:
            ws.sock.sendall(frame)
    status, seconds = server.signal_and_time_the_exit(2 + 2)
    ws.close()
    assert status == 0, (status, seconds, server.log())


def test_sigterm_exits_within_the_grace_while_a_handler_never_returns(
    server_process: type[ServerProcess],
) -> None:
    server = server_process("--shutdown-grace", "1", "-w", str(HANDLERS))
    ws = server.upgraded("/hang")
    status, seconds = server.signal_and_time_the_exit(1 + 2)
    assert ws.read_frame()[0] == 8  # it was asked to close, then cut
    ws.close()
    assert status == 0, (status, seconds, server.log())


def test_a_second_signal_exits_at_once(server_process: type[ServerProcess]) -> None:
    server = server_process("--shutdown-grace", "30")
    ws = server.upgraded()  # never answers the Close: the grace would run its 30 s
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "shutting down" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ws.read_frame()[0] == 8  # the graceful shutdown is under way
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    status = server.process.wait(5)
    assert time.monotonic() - started < 2.0
    assert status == 128 + signal.SIGINT
    ws.close()


def test_3000_idle_clients_exit_within_the_grace_with_an_access_line_each(
    server_process: type[ServerProcess],
) -> None:
    grace = 4.0
    server = server_process("--shutdown-grace", str(grace), "-q", "1024")
    clients = []
    try:
        for _ in range(3000):  # upgraded, then silent: they never answer the Close
            ws = RawWebSocket(server.port, timeout=30)
            ws.upgrade("/echo")
            clients.append(ws)
        for ws in clients:
            assert ws.read_head()[0] == 101
        status, seconds = server.signal_and_time_the_exit(grace + 5)
    finally:
        for ws in clients:
            ws.close()
    assert status == 0, (status, seconds)
    # The grace, then the process's own exit (0.1-0.2 s here), with room for a busy
    # machine; the watchdog would end it at grace + 2 s with status 1.
    assert seconds <= grace + 1.0, seconds
    lines = re.findall(r'"/echo" 101 (\S+) ', server.log())
    assert len(lines) == 3000 and set(lines) == {"1001"}, (len(lines), set(lines))
    assert "WARNING" not in server.log().replace("[WARNING] mod_pywebsocket.standalone: signal", "")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_at_the_descriptor_limit_clients_get_503_and_the_server_recovers(
    server_process: type[ServerProcess],
) -> None:
    server = server_process(nofile=64)
    held = []
    try:
        status = 101
        while status == 101:  # every connection holds one of the server's descriptors
            assert len(held) < 64, "the descriptor limit was never reached"
            ws = RawWebSocket(server.port, timeout=5)
            held.append(ws)
            ws.upgrade("/echo")
            status = ws.read_head()[0]  # no hang: an answer either way
        assert status == 503
        cpu = _cpu_seconds(server.process.pid)
        for _ in range(5):  # more clients at the limit: each one answered at once
            with RawWebSocket(server.port, timeout=5) as ws:
                ws.upgrade("/echo")
                assert ws.read_head()[0] == 503
        time.sleep(2)
        # The accept loop does not spin at the limit (it used a whole core).
        assert _cpu_seconds(server.process.pid) - cpu < 0.5
    finally:
        for ws in held:
            ws.close()
    deadline = time.monotonic() + 10
    while True:  # descriptors are back: served again
        with RawWebSocket(server.port, timeout=5) as ws:
            ws.upgrade("/echo")
            if ws.read_head()[0] == 101:
                ws.send_text("back")
                assert ws.read_frame() == (1, b"back")
                break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert server.log().count("cannot accept") == 1  # one line, rate-limited
