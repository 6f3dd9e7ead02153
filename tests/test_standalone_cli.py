"""The command line, run as pywebsocket3 4.0.2's users run it.

Each row of the table is an invocation taken from pywebsocket3's documentation
or its own end-to-end suite, run as a real process: what it serves, and how
it exits. pywebsocket3's command line works from the document root (it
changes directory there), so every relative path is relative to ``-d``, and
without ``-w`` the handlers are the document root's own.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.rawclient import RawWebSocket, masked_frame

EXAMPLE = Path(__file__).resolve().parents[1] / "example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cli:
    """One server process: started with flags, probed, stopped with SIGTERM."""

    def __init__(self, cwd: Path, *flags: str) -> None:
        self.port = free_port()
        args = [a.replace("{port}", str(self.port)) for a in flags]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mod_pywebsocket.standalone", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the server did not start listening")

    def upgrade_status(self, resource: str) -> int:
        with RawWebSocket(self.port) as ws:
            ws.upgrade(resource)
            return ws.read_head()[0]

    def get(self, path: str) -> int:
        with RawWebSocket(self.port) as ws:
            ws.request(path)
            return ws.read_head()[0]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, err

    def exit(self, timeout: float = 15.0) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A copy of the examples: handlers at the top, another handler tree below."""
    root = tmp_path / "site"
    shutil.copytree(EXAMPLE, root)
    yield root


# (flags, cwd relative to the site's parent, resources answering 101, ones answering 404)
SERVING = [
    # pywebsocket3's own end-to-end suite: no -w, so the handlers are -d's.
    (
        ["-H", "127.0.0.1", "-V", "localhost", "-p", "{port}", "-P", "{port}", "-d", "site"],
        ["/echo", "/close", "/example/chat"],
        ["/chat"],
    ),
    # Its documented demo: -d only, default -w '.', which is the document root.
    (["-p", "{port}", "-d", "site"], ["/echo", "/example/chat"], []),
    # -w relative to -d: 'example' is site/example, whose chat handler is /chat.
    (["-p", "{port}", "-d", "site", "-w", "example"], ["/chat"], ["/echo", "/example/chat"]),
    # -s (relative to -d, under -w) narrows the scan.
    (["-p", "{port}", "-d", "site", "-s", "example"], ["/example/chat"], ["/echo"]),
    # No -d: the document root is the working directory.
    (["-p", "{port}", "-w", "site"], ["/echo"], []),
]


@pytest.mark.parametrize("flags, found, missing", SERVING)
def test_invocations_serve_what_pywebsocket3_serves(
    site: Path, flags: list[str], found: list[str], missing: list[str]
) -> None:
    cli = Cli(site.parent, *flags)
    cli.wait_listening()
    try:
        for resource in found:
            assert cli.upgrade_status(resource) == 101, resource
        for resource in missing:
            assert cli.upgrade_status(resource) == 404, resource
    finally:
        code, err = cli.stop()
    assert code == 0, err


def test_static_files_come_from_the_document_root(site: Path) -> None:
    cli = Cli(site.parent, "-p", "{port}", "-d", "site", "-w", "example")
    cli.wait_listening()
    try:
        assert cli.get("/console.html") == 200
    finally:
        cli.stop()


def test_missing_handler_root_serves_nothing_and_says_so(site: Path) -> None:
    """pywebsocket3 starts with an absent -w and answers 404 to everything."""
    cli = Cli(site.parent, "-p", "{port}", "-d", "site", "-w", "no-such-dir")
    cli.wait_listening()
    try:
        assert cli.upgrade_status("/echo") == 404
    finally:
        code, err = cli.stop()
    assert code == 0 and "no-such-dir" in err and "no handlers" in err


def test_relative_log_file_is_in_the_document_root(site: Path) -> None:
    cli = Cli(site.parent, "-p", "{port}", "-d", "site", "-l", "server.log", "--log-level", "fine")
    cli.wait_listening()
    cli.upgrade_status("/echo")
    code, _ = cli.stop()
    assert code == 0 and (site / "server.log").exists()


@pytest.mark.parametrize(
    "flags, status, message",
    [
        (["-d", "no-such-root"], 1, "no-such-root"),
        (["extra-positional"], 1, "unrecognized arguments: extra-positional"),
        (["--no-such-flag"], 1, "no-such-flag"),
        (["-p", "not-a-number"], 2, "invalid int value"),
        (["-t"], 1, "To use TLS, specify private_key and certificate."),
        (["--tls-client-auth"], 1, "TLS must be enabled for client authentication."),
        (["--tls-client-cert-optional"], 1, "TLS must be enabled for client authentication."),
        (
            ["-t", "-k", "k.pem", "-c", "c.pem", "--tls-client-cert-optional"],
            1,
            "Client authentication must be enabled to specify tls_client_cert_optional",
        ),
        (["--config", "missing.ini"], 1, "cannot read config file missing.ini"),
        (["--log-level", "loud"], 2, "invalid choice"),
        (["-s", "/", "-w", "."], 1, "must be under the handler root"),
    ],
)
def test_invocations_that_exit(site: Path, flags: list[str], status: int, message: str) -> None:
    cli = Cli(site.parent, "-p", "{port}", *flags)
    code, err = cli.exit()
    assert code == status and message in err, err
    assert err.count(message) == 1, err  # said once
    assert "Traceback" not in err


def test_tls_files_relative_to_the_document_root(site: Path, tmp_path: Path) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(site / "cert.pem"))
    issued.private_key_pem.write_to_path(str(site / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cli = Cli(site.parent, "-p", "{port}", "-d", "site", "-t", "-c", "cert.pem", "-k", "key.pem")
    cli.wait_listening()
    try:
        import ssl

        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        context.check_hostname = False
        with socket.create_connection(("127.0.0.1", cli.port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"GET /console.html HTTP/1.1\r\nHost: x\r\n\r\n")
                assert tls.recv(12).startswith(b"HTTP/1.1 200")
    finally:
        code, err = cli.stop()
    assert code == 0, err


def test_pywebsocket3_standalone_is_the_same_command(site: Path) -> None:
    """``python -m pywebsocket3.standalone`` itself needs the installed .pth hook
    (tests/test_import_names.py runs it from a built wheel); an editable
    install resolves the name once mod_pywebsocket is imported."""
    port = free_port()
    run = (
        "import mod_pywebsocket, runpy, sys; sys.argv[0] = 'standalone'; "
        "runpy.run_module('pywebsocket3.standalone', run_name='__main__', alter_sys=True)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", run, "-p", str(port), "-d", "site"],
        cwd=site.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        with RawWebSocket(port) as ws:
            ws.upgrade("/echo")
            assert ws.read_head()[0] == 101
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_thread_monitor_logs_the_live_threads(site: Path) -> None:
    cli = Cli(
        site.parent,
        "-p",
        "{port}",
        "-d",
        "site",
        "--log-level",
        "info",
        "--thread-monitor-interval-in-sec",
        "1",
    )
    cli.wait_listening()
    time.sleep(1.5)
    code, err = cli.stop()
    assert code == 0 and "active threads: " in err and "ThreadMonitor" in err


def test_help_is_grouped_with_defaults_and_examples() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mod_pywebsocket", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0
    for group in (
        "network:",
        "handlers and files:",
        "TLS:",
        "authentication:",
        "limits and timeouts:",
        "logging:",
        "protocol and compatibility:",
        "examples:",
    ):
        assert group in out.stdout, group
    assert "(default: 80)" in out.stdout and "(default: 60.0)" in " ".join(out.stdout.split())
    assert "--scan_dir" not in out.stdout and "--log_level" not in out.stdout  # accepted, hidden


def test_underscored_spellings_are_still_accepted(site: Path) -> None:
    cli = Cli(
        site.parent,
        "--port",
        "{port}",
        "--document_root",
        "site",
        "--websock_handlers",
        "example",
        "--log_level",
        "info",
    )
    cli.wait_listening()
    try:
        assert cli.upgrade_status("/chat") == 101
    finally:
        code, _ = cli.stop()
    assert code == 0


def test_version_says_whether_the_speedups_are_used() -> None:
    import mod_pywebsocket
    from mod_pywebsocket.protocol.masking import HAS_SPEEDUPS

    out = subprocess.run(
        [sys.executable, "-m", "mod_pywebsocket", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0
    assert out.stdout.strip() == (
        f"mod_pywebsocket {mod_pywebsocket.__version__} "
        f"(C speedups: {'on' if HAS_SPEEDUPS else 'off'})"
    )


def test_banner_names_the_urls_and_warnings_are_said_once(site: Path) -> None:
    (site / "broken_wsh.py").write_text("def web_socket_do_extra_handshake(r):\n    pass\n")
    cli = Cli(site.parent, "-H", "127.0.0.1", "-p", "{port}", "-d", "site", "--access-log")
    cli.wait_listening()
    try:
        assert cli.upgrade_status("/echo") == 101
        time.sleep(0.3)  # the access line is written when the connection ends
    finally:
        code, err = cli.stop()
    assert code == 0
    assert f"at ws://127.0.0.1:{cli.port}/ (document root {site})" in err
    assert err.count("broken_wsh.py") == 1, err  # one warning, not two
    assert '"/echo" 101' in err  # --access-log: the access line at the default level


@pytest.mark.parametrize("family, address", [(socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")])
def test_a_port_taken_on_either_family_stops_the_server(
    site: Path, family: int, address: str
) -> None:
    """With the default host the server listens on IPv6 and IPv4; another process
    holding the port on one of them must stop it, not leave half the clients
    reaching that process."""
    with socket.socket(family, socket.SOCK_STREAM) as taken:
        if family == socket.AF_INET6:
            taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        taken.bind((address, 0))
        taken.listen()
        port = taken.getsockname()[1]
        cli = Cli(site.parent, "-p", str(port), "-d", "site")
        code, err = cli.exit()
    shown = f"[::]:{port}" if family == socket.AF_INET6 else f"0.0.0.0:{port}"
    assert code == 1 and f"cannot listen on {shown}: Address already in use" in err, err
    assert "pick another port with -p" in err and err.count("cannot listen") == 1


def test_log_level_debug_traces_the_handshake_and_every_frame(site: Path) -> None:
    """``--log-level debug``: the request line, what was agreed, and each frame in
    and out (opcode, flags, length, the start of the payload); at the default
    level none of it, and a refusal says why at ``info``."""
    cli = Cli(site.parent, "-H", "127.0.0.1", "-p", "{port}", "-d", "site", "--log-level", "debug")
    cli.wait_listening()
    try:
        with RawWebSocket(cli.port) as ws:
            ws.upgrade("/echo")
            assert ws.read_head()[0] == 101
            ws.send(masked_frame(0x1, b"frag", fin=False))
            ws.send(masked_frame(0x9, b"are you there"))
            ws.send(masked_frame(0x0, b"mented", fin=True))
            assert ws.read_frame() == (0xA, b"are you there")
            assert ws.read_frame() == (0x1, b"fragmented")
            ws.send_close(1000, b"bye")
            assert ws.read_frame()[0] == 0x8
        assert cli.upgrade_status("/nowhere") == 404
        time.sleep(0.3)
    finally:
        code, err = cli.stop()
    assert code == 0
    assert "handshake: GET /echo HTTP/1.1" in err
    assert "/echo: accepted (version 13, subprotocol None, extensions None)" in err
    for frame in (
        "<- TEXT MASK len=4 b'frag'",
        "<- PING FIN,MASK len=13 b'are you there'",
        "<- CONT FIN,MASK len=6 b'mented'",
        "-> PONG FIN len=13 b'are you there'",
        "-> TEXT FIN len=10 b'fragmented'",
        "<- CLOSE FIN,MASK len=5 b'\\x03\\xe8bye'",
        "-> CLOSE FIN len=2 b'\\x03\\xe8'",
    ):
        assert f"/echo: {frame}" in err, (frame, err)
    assert "handshake refused (404): no WebSocket handler for /nowhere" in err

    quiet = Cli(site.parent, "-H", "127.0.0.1", "-p", "{port}", "-d", "site")
    quiet.wait_listening()
    try:
        with RawWebSocket(quiet.port) as ws:
            ws.upgrade("/echo")
            assert ws.read_head()[0] == 101
            ws.send_text("hello")
            assert ws.read_frame() == (0x1, b"hello")
    finally:
        code, err = quiet.stop()
    assert code == 0 and "<- TEXT" not in err and "handshake:" not in err
