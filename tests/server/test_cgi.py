"""CGI on a network: bad bytes, httpoxy, the body's deadline and length, process groups,
streamed output."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mod_pywebsocket.server.threaded import ThreadedServer
from tests.server.process import ServerProcess

Start = Callable[..., ThreadedServer]
MiB = 1024 * 1024


def script(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)


@pytest.fixture
def cgi_root(tmp_path: Path) -> Iterator[Path]:
    bin_dir = tmp_path / "cgi-bin"
    bin_dir.mkdir()
    # Every script leaves a mark when it runs, so tests can tell it never ran.
    script(
        bin_dir,
        "env.py",
        f"""\
        import os, sys
        open({str(tmp_path / "ran")!r}, "a").write("env\\n")
        body = sys.stdin.buffer.read()
        print("Content-Type: text/plain")
        print()
        for key in ("HTTP_PROXY", "HTTP_X_AGENT", "QUERY_STRING", "PATH_INFO"):
            print(key + "=" + os.environ.get(key, "<unset>"))
        print("body=" + body.decode("latin-1"))
        """,
    )
    script(
        bin_dir,
        "spawn.py",
        f"""\
        import subprocess, sys, time
        child = subprocess.Popen(["sleep", "60"])
        open({str(tmp_path / "child")!r}, "w").write(str(child.pid))
        time.sleep(60)
        """,
    )
    script(
        bin_dir,
        "flood.py",
        """\
        import os, sys
        size = int(os.environ["QUERY_STRING"])
        out = sys.stdout.buffer
        out.write(b"Content-Type: application/octet-stream\\r\\n\\r\\n")
        block = b"\\x00" * (1 << 20)
        for _ in range(size):
            out.write(block)
        """,
    )
    script(
        bin_dir,
        "sized.py",
        """\
        print("Content-Type: text/plain")
        print("Content-Length: 5")
        print()
        print("hello world")
        """,
    )
    script(
        bin_dir,
        "endless_head.py",
        """\
        import sys
        sys.stdout.write("X-Long: " + "v" * 100_000)
        """,
    )
    yield tmp_path


def exchange(
    port: int, request: bytes, *, half_close: bool = False, timeout: float = 10
) -> tuple[int | None, bytes]:
    """(status or None for an empty reply, body) of one request."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = bytearray()
        try:
            while chunk := s.recv(1 << 20):
                data += chunk
        except ConnectionResetError:
            pass
    if not data:
        return None, b""
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def cgi_server(start: Start, root: Path, timeout: float = 5.0) -> int:
    server = start(document_root=str(root), cgi_paths="/cgi-bin", cgi_timeout=timeout)
    return server.server_port


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nX-Agent: a\x00b\r\n\r\n",  # NUL in a header
        b"GET /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nX-Agent: a\nb\r\n\r\n",  # bare LF in a value
        b"GET /cgi-bin/env.py?a=\x00 HTTP/1.1\r\nHost: x\r\n\r\n",  # NUL in the query
        b"GET /cgi-bin/env.py/x%00y HTTP/1.1\r\nHost: x\r\n\r\n",  # NUL in PATH_INFO
        b"GET /cgi-bin/env%00.py HTTP/1.1\r\nHost: x\r\n\r\n",  # NUL in the script name
        b"GET /cgi-bin/env.py/a%0d%0aX:%20y HTTP/1.1\r\nHost: x\r\n\r\n",  # CR LF in PATH_INFO
        b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\nab",  # "²"
        b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab",
    ],
    ids=[
        "header-nul",
        "header-lf",
        "query-nul",
        "path-info-nul",
        "script-nul",
        "path-info-crlf",
        "superscript-length",
        "list-length",
    ],
)
def test_bad_bytes_get_400_and_the_script_does_not_run(
    start_server: Start, cgi_root: Path, request_bytes: bytes
) -> None:
    port = cgi_server(start_server, cgi_root)
    # Before: ValueError in the server and an empty reply.
    assert exchange(port, request_bytes)[0] == 400
    assert not (cgi_root / "ran").exists()
    assert exchange(port, b"GET /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200


@pytest.mark.parametrize("length", [b"16777217", b"9" * 5000])
def test_too_large_a_body_is_413(start_server: Start, cgi_root: Path, length: bytes) -> None:
    port = cgi_server(start_server, cgi_root)
    # Before: 400 for the first; for the second, int() raised (over 4300 digits) and
    # the client got an empty reply.
    status, _ = exchange(
        port, b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n"
    )
    assert status == 413 and not (cgi_root / "ran").exists()


def test_the_proxy_header_never_reaches_the_script(start_server: Start, cgi_root: Path) -> None:
    port = cgi_server(start_server, cgi_root)
    status, body = exchange(
        port,
        b"GET /cgi-bin/env.py/p?q HTTP/1.1\r\nHost: x\r\n"
        b"Proxy: http://attacker.example:8080\r\nX-Agent: t\r\n\r\n",
    )
    # Before: HTTP_PROXY=http://attacker.example:8080 (httpoxy, CVE-2016-5385 and kin).
    assert status == 200 and b"HTTP_PROXY=<unset>\n" in body
    assert b"HTTP_X_AGENT=t\n" in body and b"QUERY_STRING=q\n" in body
    assert b"PATH_INFO=/p\n" in body


def test_a_short_body_is_400_and_the_script_does_not_run(
    start_server: Start, cgi_root: Path
) -> None:
    port = cgi_server(start_server, cgi_root)
    status, _ = exchange(
        port,
        b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello",
        half_close=True,
    )
    # Before: 200, the script ran with the 5 bytes it got.
    assert status == 400 and not (cgi_root / "ran").exists()
    status, body = exchange(
        port, b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert status == 200 and b"body=hello\n" in body


def test_a_trickled_body_meets_one_deadline(start_server: Start, cgi_root: Path) -> None:
    port = cgi_server(start_server, cgi_root, timeout=1.0)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        stop = threading.Event()

        def trickle() -> None:  # a byte every 0.2 s: each recv returns well in time
            while not stop.wait(0.2):
                try:
                    s.send(b"x")
                except OSError:
                    return

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        try:
            # Before: no answer for the 200 s the body takes (the timeout was per recv).
            response = s.recv(65536)
        finally:
            stop.set()
            thread.join(5)
    assert response.startswith(b"HTTP/1.1 408 ") and not (cgi_root / "ran").exists()


@pytest.mark.parametrize("encoding", ["chunked", "gzip, chunked"])
def test_chunked_bodies_get_411(start_server: Start, cgi_root: Path, encoding: str) -> None:
    port = cgi_server(start_server, cgi_root)
    status, _ = exchange(
        port,
        b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    # Before: 200, and the script read an empty body.
    assert status == 411 and not (cgi_root / "ran").exists()
    status, _ = exchange(
        port, b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx"
    )
    assert status == 400  # RFC 9112 6.3: chunked not last, the length is unknowable


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie waiting for init is dead too


def test_a_timed_out_scripts_children_die_with_it(start_server: Start, cgi_root: Path) -> None:
    port = cgi_server(start_server, cgi_root, timeout=1.0)
    assert exchange(port, b"GET /cgi-bin/spawn.py HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 504
    child = int((cgi_root / "child").read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = not _gone(child)
    if alive:
        os.kill(child, 9)
    # Before: the script's "sleep 60" lived on after the 504.
    assert not alive


def test_large_output_streams_to_the_client(cgi_root: Path) -> None:
    server = ServerProcess("-w", str(cgi_root), "-d", str(cgi_root), "-x", "/cgi-bin")
    try:
        assert (
            exchange(server.port, b"GET /cgi-bin/flood.py?1 HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
        )
        server.reset_peak()
        received = 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
            s.sendall(b"GET /cgi-bin/flood.py?64 HTTP/1.1\r\nHost: x\r\n\r\n")
            while chunk := s.recv(1 << 20):
                received += len(chunk)
        growth = server.peak_growth()
    finally:
        server.stop()
    assert 64 * MiB < received < 64 * MiB + 200  # the head, then every byte of the body
    # Before: the whole output was held and copied, about 3x its size in RSS.
    assert growth < 16 * MiB, growth / MiB


def test_script_headers_head_and_content_length(start_server: Start, cgi_root: Path) -> None:
    port = cgi_server(start_server, cgi_root)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /cgi-bin/sized.py HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    # The script's Content-Length is passed on, and the body held to it.
    assert b"\r\nContent-Length: 5\r\n" in head and body == b"hello"
    status, body = exchange(port, b"HEAD /cgi-bin/sized.py HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and body == b""
    status, body = exchange(port, b"HEAD /cgi-bin/missing.py HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 404 and body == b""


def test_a_header_block_that_never_ends_is_502(start_server: Start, cgi_root: Path) -> None:
    port = cgi_server(start_server, cgi_root)
    assert exchange(port, b"GET /cgi-bin/endless_head.py HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 502
