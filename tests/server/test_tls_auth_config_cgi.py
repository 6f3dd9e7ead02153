"""The standalone server's TLS, client certificates, basic auth, config file, CGI and logs."""

from __future__ import annotations

import base64
import logging
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
import websocket  # websocket-client

from mod_pywebsocket import standalone
from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server.threaded import ThreadedServer, TlsTransport
from tests.rawclient import RawWebSocket
from tests.wssclient import connect

HANDLERS = Path(__file__).resolve().parent / "handlers"
Start = Callable[..., ThreadedServer]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {
        "cert": directory / "cert.pem",
        "key": directory / "key.pem",
        "ca": directory / "ca.pem",
    }
    server_cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server_cert.private_key_pem.write_to_path(str(files["key"]))
    ca.cert_pem.write_to_path(str(files["ca"]))
    return {k: str(v) for k, v in files.items()}


def client_context(ca: trustme.CA, with_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if with_cert:
        ca.issue_cert("client@example.com", common_name="test client").configure_cert(context)
    return context


def tls_server(start: Start, files: dict[str, str], **more: object) -> ThreadedServer:
    return start(
        websock_handlers=str(HANDLERS),
        use_tls=True,
        certificate=files["cert"],
        private_key=files["key"],
        **more,
    )


def test_wss_echo(start_server: Start, ca: trustme.CA, tls_files: dict[str, str]) -> None:
    server = tls_server(start_server, tls_files)
    wss = f"wss://127.0.0.1:{server.server_port}"
    with connect(f"{wss}/echo", client_context(ca)) as ws:
        ws.send("secure")
        assert ws.recv() == "secure"
        ws.send(b"\x01" * 200_000)  # large enough for the vectored send path
        assert ws.recv() == b"\x01" * 200_000
    with connect(f"{wss}/tlsinfo", client_context(ca)) as ws:
        assert ws.recv() == "https=True cert=None"
    client = websocket.create_connection(
        f"{wss}/echo", sslopt={"ca_certs": tls_files["ca"]}, timeout=10
    )
    try:
        client.send("also secure")
        assert client.recv() == "also secure"
    finally:
        client.close()


def test_tls_is_at_least_1_2(
    start_server: Start, ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    server = tls_server(start_server, tls_files)
    context = client_context(ca)
    with pytest.warns(DeprecationWarning):  # old versions, on purpose
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        with (
            socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass


def test_a_stalled_tls_client_costs_nobody_else(
    start_server: Start, ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    server = tls_server(start_server, tls_files, handshake_timeout=5.0)
    silent = socket.create_connection(("127.0.0.1", server.server_port))
    garbage = socket.create_connection(("127.0.0.1", server.server_port))
    garbage.sendall(b"GET / HTTP/1.1\r\n\r\n")  # plain HTTP to a TLS port
    started = time.monotonic()
    with connect(f"wss://127.0.0.1:{server.server_port}/echo", client_context(ca)) as ws:
        ws.send("not delayed")
        assert ws.recv() == "not delayed"
    assert time.monotonic() - started < 3.0
    silent.close()
    garbage.close()


def test_client_certificate_required(
    start_server: Start, ca: trustme.CA, tls_files: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    server = tls_server(
        start_server, tls_files, tls_client_auth=True, tls_client_ca=tls_files["ca"]
    )
    url = f"wss://127.0.0.1:{server.server_port}/tlsinfo"
    # TLS 1.3 reports the missing certificate after the client's side of the
    # handshake: depending on timing the client library reports it while opening
    # or at its first recv(). Either way no message ever arrives.
    with caplog.at_level(logging.INFO, logger="mod_pywebsocket.server"):
        with pytest.raises((websocket.WebSocketException, ssl.SSLError, ConnectionError)):
            with connect(url, client_context(ca), timeout=5) as ws:
                ws.recv()
        deadline = time.monotonic() + 5
        while "TLS handshake with" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "TLS handshake with" in caplog.text and "failed" in caplog.text
    with connect(url, client_context(ca, with_cert=True)) as ws:
        assert ws.recv() == "https=True cert=test client"


def test_client_certificate_optional(
    start_server: Start, ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    server = tls_server(
        start_server,
        tls_files,
        tls_client_auth=True,
        tls_client_cert_optional=True,
        tls_client_ca=tls_files["ca"],
    )
    url = f"wss://127.0.0.1:{server.server_port}/tlsinfo"
    with connect(url, client_context(ca)) as ws:
        assert ws.recv() == "https=True cert=None"
    with connect(url, client_context(ca, with_cert=True)) as ws:
        assert ws.recv() == "https=True cert=test client"


def _client_hello() -> bytes:
    """The first flight of a real TLS client, captured without a network."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def _wait_for_eof(sock: socket.socket) -> None:
    sock.settimeout(10)
    try:
        while sock.recv(4096):
            pass
    except OSError:  # a reset, or the TLS alert's abrupt end
        pass


def _fail_tls_handshake(kind: str, port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        if kind == "plaintext":
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            _wait_for_eof(sock)
        elif kind == "rejected_certificate":  # the client does not trust the server's CA
            with pytest.raises(ssl.SSLCertVerificationError):
                ssl.create_default_context().wrap_socket(sock, server_hostname="127.0.0.1")
        elif kind == "truncated_client_hello":
            hello = _client_hello()
            sock.sendall(hello[: len(hello) // 2])
        else:  # silence: the server gives up after the handshake timeout
            _wait_for_eof(sock)
    finally:
        sock.close()


@pytest.mark.parametrize(
    "kind", ["plaintext", "rejected_certificate", "truncated_client_hello", "silence"]
)
def test_a_failed_tls_handshake_releases_its_descriptor_and_its_slot(
    start_server: Start, ca: trustme.CA, tls_files: dict[str, str], kind: str
) -> None:
    server = tls_server(start_server, tls_files, max_connections=3, handshake_timeout=0.3)
    url = f"wss://127.0.0.1:{server.server_port}/echo"
    with connect(url, client_context(ca)) as ws:  # warm up, then take the baseline
        ws.send("warm")
        assert ws.recv() == "warm"
    assert _settle(lambda: server.connection_count() == 0)
    port = server.server_port
    assert _settle(lambda: _accepted_sockets(port) == 0), _accepted_sockets(port)
    for _ in range(6):  # twice as many failures as there are slots
        _fail_tls_handshake(kind, server.server_port)
        # The server's side ends a moment after the client's: then its slot is back.
        assert _settle(lambda: server.connection_count() == 0), server.connection_count()
    # No descriptor of the server's side of those connections is left open.
    assert _settle(lambda: _accepted_sockets(port) == 0), _accepted_sockets(port)
    with connect(url, client_context(ca)) as ws:  # no 503: every slot came back
        ws.send("served")
        assert ws.recv() == "served"


def _accepted_sockets(port: int) -> int:
    """Descriptors of this process that are the server's end of a connection on ``port``.

    Counted by socket inode (/proc/self/fd against /proc/net/tcp*), so other
    tests' sockets opening or closing meanwhile do not count.
    """
    inodes = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                listening = fields[3] == "0A"
                if local_port == port and not listening and fields[9] in inodes:
                    count += 1
    return count


def _settle(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mod_pywebsocket.standalone", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_missing_tls_files_stop_the_server_naming_the_file(
    tmp_path: Path, tls_files: dict[str, str]
) -> None:
    result = run_cli(
        "-p",
        "0",
        "-w",
        str(HANDLERS),
        "-t",
        "-c",
        tls_files["cert"],
        "-k",
        str(tmp_path / "nope.pem"),
    )
    assert result.returncode == 1
    assert "nope.pem" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    result = run_cli("-p", "0", "-w", str(HANDLERS), "-t", "-c", str(bad), "-k", tls_files["key"])
    assert result.returncode == 1 and "bad.pem" in result.stderr


# --- basic authentication -------------------------------------------------------------


def test_basic_auth(start_server: Start) -> None:
    server = start_server(
        websock_handlers=str(HANDLERS), use_basic_auth=True, basic_auth_credential="user:secret"
    )

    def status(credential: str | None) -> tuple[int, dict[str, str]]:
        extra = {}
        if credential is not None:
            extra["Authorization"] = "Basic " + base64.b64encode(credential.encode()).decode()
        with RawWebSocket(server.server_port) as ws:
            ws.upgrade("/echo", extra)
            code, headers, _ = ws.read_head()
            return code, headers

    code, headers = status(None)
    assert code == 401 and headers["www-authenticate"] == 'Basic realm="mod_pywebsocket"'
    assert status("user:wrong")[0] == 401
    assert status("user:secret")[0] == 101
    with RawWebSocket(server.server_port) as plain:  # plain HTTP is protected too
        plain.request("/echo_wsh.py")
        assert plain.read_head()[0] == 401


# --- config file ------------------------------------------------------------------------


def test_config_file_gives_the_same_options_as_flags(tmp_path: Path) -> None:
    config = tmp_path / "server.ini"
    config.write_text(
        textwrap.dedent(f"""\
        [pywebsocket]
        port = 9999
        websock_handlers = {HANDLERS}
        allow-handlers-outside-root-dir = true
        log_level = info
        max-message-size = 1000
        allow_hybi00 = true
        no-deflate = true
        basic-auth-credential = user:100%%pass%(x)s
        """)
    )
    from_file, _ = standalone._parse_args_and_config(["--config", str(config)])
    from_flags, _ = standalone._parse_args_and_config(
        [
            "--config",
            str(config),
            "-p",
            "9999",
            "-w",
            str(HANDLERS),
            "--allow-handlers-outside-root-dir",
            "--log-level",
            "info",
            "--max-message-size",
            "1000",
            "--allow-hybi00",
            "--no-deflate",
            "--basic-auth-credential",
            "user:100%%pass%(x)s",
        ]
    )
    assert ServerOptions.from_namespace(from_file) == ServerOptions.from_namespace(from_flags)
    options = ServerOptions.from_namespace(from_file)
    assert (
        options.port,
        options.max_message_size,
        options.allow_hybi00,
        options.enable_deflate,
    ) == (9999, 1000, True, False)
    assert from_file.basic_auth_credential == "user:100%%pass%(x)s"  # values are literal
    # Flags given on the command line win over the file.
    overridden, _ = standalone._parse_args_and_config(["--config", str(config), "-p", "1234"])
    assert overridden.port == 1234


def test_config_file_errors_name_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.ini"
    config.write_text("[pywebsocket]\nno_such_flag = 1\n")
    result = run_cli("--config", str(config))
    assert result.returncode != 0 and "unknown key 'no_such_flag'" in result.stderr
    result = run_cli("--config", str(tmp_path / "missing.ini"))
    assert result.returncode != 0 and "missing.ini" in result.stderr
    result = run_cli("--no-such-flag")
    assert result.returncode != 0 and "no-such-flag" in result.stderr


# --- CGI --------------------------------------------------------------------------------


@pytest.fixture
def cgi_root(tmp_path: Path) -> Iterator[Path]:
    bin_dir = tmp_path / "cgi-bin"
    bin_dir.mkdir()
    script = bin_dir / "hello.py"
    script.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import os, sys
        body = sys.stdin.read()
        print("Content-Type: text/plain")
        print("X-Method: " + os.environ["REQUEST_METHOD"])
        print()
        print("query=" + os.environ["QUERY_STRING"] + " path=" + os.environ["PATH_INFO"]
              + " body=" + body + " agent=" + os.environ.get("HTTP_X_AGENT", ""))
        """)
    )
    script.chmod(0o755)
    slow = bin_dir / "slow.py"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    slow.chmod(0o755)
    (bin_dir / "plain.txt").write_text("not executable")
    (tmp_path / "secret.py").write_text(f"#!{sys.executable}\nprint('Content-Type: x\\n\\nno')\n")
    (tmp_path / "secret.py").chmod(0o755)
    yield tmp_path


def http(port: int, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_cgi_get_post_traversal_and_timeout(start_server: Start, cgi_root: Path) -> None:
    server = start_server(
        websock_handlers=str(HANDLERS),
        document_root=str(cgi_root),
        cgi_paths="/cgi-bin",
        cgi_timeout=1.0,
    )
    port = server.server_port
    status, body = http(
        port, b"GET /cgi-bin/hello.py/extra?a=1 HTTP/1.1\r\nHost: x\r\nX-Agent: tester\r\n\r\n"
    )
    assert status == 200 and body == b"query=a=1 path=/extra body= agent=tester\n"
    status, body = http(
        port, b"POST /cgi-bin/hello.py HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert status == 200 and body.startswith(b"query= path= body=hello")
    for target in (
        b"/cgi-bin/../secret.py",
        b"/cgi-bin/%2e%2e/secret.py",
        b"/cgi-bin/hello.py/../../secret.py",
    ):
        assert http(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")[0] in (403, 404)
    assert http(port, b"GET /cgi-bin/plain.txt HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 403
    assert http(port, b"GET /cgi-bin/none.py HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 404
    started = time.monotonic()
    assert http(port, b"GET /cgi-bin/slow.py HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 504
    assert time.monotonic() - started < 10


# --- log files --------------------------------------------------------------------------


def test_log_file_rotation(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    options, _ = standalone._parse_args_and_config(
        ["-l", str(log), "--log-max", "2000", "--log-count", "2", "--log-level", "info"]
    )
    standalone.configure_logging(options)
    try:
        for i in range(200):
            logging.getLogger("mod_pywebsocket.test").info("line %d of the rotation test", i)
    finally:
        root = logging.getLogger()
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = []
    assert log.exists() and (tmp_path / "server.log.1").exists()
    assert (tmp_path / "server.log.2").exists() and not (tmp_path / "server.log.3").exists()
    assert os.path.getsize(log) <= 2000


class _OverlapDetectingSocket:
    """Stands in for a TLS socket and records whether a send ever ran during a recv."""

    def __init__(self) -> None:
        self.in_recv = threading.Event()
        self.overlaps = 0
        self.sends = 0

    def setblocking(self, flag: bool) -> None:
        pass

    def recv(self, size: int) -> bytes:
        self.in_recv.set()
        time.sleep(0.02)  # a slow OpenSSL read: any send now would overlap it
        self.in_recv.clear()
        return b"x"

    def send(self, data: memoryview) -> int:
        if self.in_recv.is_set():
            self.overlaps += 1
        self.sends += 1
        return len(data)


def test_tls_reads_and_writes_of_one_connection_never_overlap() -> None:
    # OpenSSL forbids two threads in one SSL object; the handler's thread reads
    # while keepalive, shutdown or its other threads write.
    sock = _OverlapDetectingSocket()
    transport = TlsTransport(sock, b"", None)  # type: ignore[arg-type]

    def read() -> None:
        for _ in range(10):
            transport.recv(1)

    reader = threading.Thread(target=read)
    reader.start()
    assert sock.in_recv.wait(5)
    while reader.is_alive():
        transport.send(b"ping")
    reader.join()
    assert sock.sends > 0
    assert sock.overlaps == 0


def test_keepalive_pings_and_handler_traffic_share_one_tls_connection(
    start_server: Start, ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    # The keepalive thread writes pings while the handler's thread reads and echoes.
    server = tls_server(start_server, tls_files, ping_interval=0.01, ping_timeout=10.0)
    with connect(f"wss://127.0.0.1:{server.server_port}/echo", client_context(ca)) as ws:
        for i in range(400):
            message = f"message {i} " * 40
            ws.send(message)
            assert ws.recv() == message
