"""The handler-API suite runs against every deployment (issue: Apache + mod_python).

``port`` is parametrized: "standalone" starts the server through the
embedding API as test harnesses do; "asyncio" runs the same handlers on the
asyncio engine; "http2" serves them with ``--http2`` and reaches them through
tests/http2/tunnel.py, so each WebSocket is an RFC 8441 stream and each test's
frames cross the HTTP/2 driver; "apache" starts a real httpd with
mod_python over the same handler directory (tests/apache/httpd.py). Tests
that inspect handler state in-process use ``standalone_server`` instead.

A test marked ``http1_only(reason)`` is about the bytes of the HTTP/1.1
handshake itself (a handler's own 101, headers HTTP/2 has no place for), so
it is not generated for "http2" at all.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from mod_pywebsocket import standalone
from mod_pywebsocket.options import ServerOptions
from tests.serving import Server, serving

HANDLERS = Path(__file__).resolve().parent / "handlers"
APACHE_TESTS = Path(__file__).resolve().parents[1] / "apache"


_ARGS = ["-H", "127.0.0.1", "-p", "0", "-w", str(HANDLERS), "-d", str(HANDLERS)]


_S = TypeVar("_S", bound=Server)


def _serving(
    make: Callable[[argparse.Namespace], _S], *flags: str
) -> contextlib.AbstractContextManager[_S]:
    """A server over the suite's handlers on a free port (close timeout 2 s), in a thread."""
    options, _ = standalone._parse_args_and_config([*_ARGS, "--close-timeout", "2", *flags])
    return serving(make(options))


@pytest.fixture(scope="module")
def standalone_server() -> Iterator[standalone.WebSocketServer]:
    with _serving(standalone.WebSocketServer) as server:
        yield server


class Deployment:
    """Where the suite's requests go, and how to read what the server logged."""

    def __init__(
        self, port: int, log: Callable[[], str], http2: bool = False, server_port: int = 0
    ) -> None:
        self.port, self.log = port, log
        self.http2 = http2  # reached through tests/http2/tunnel.py
        self.server_port = server_port or port  # the port handlers see in Host

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.log()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def _collected_log() -> Iterator[Callable[[], str]]:
    """What the server logs while the block runs, as one text."""
    collect = _Collect()
    logger = logging.getLogger("mod_pywebsocket")
    logger.addHandler(collect)
    try:
        yield lambda: "\n".join(collect.lines)
    finally:
        logger.removeHandler(collect)


@pytest.fixture(scope="module")
def standalone_deployment(standalone_server: standalone.WebSocketServer) -> Iterator[Deployment]:
    with _collected_log() as log:
        yield Deployment(standalone_server.server_port, log)


def _options(namespace: argparse.Namespace) -> ServerOptions:
    return ServerOptions.from_namespace(namespace)


@pytest.fixture(scope="module")
def asyncio_deployment() -> Iterator[Deployment]:
    """The same handlers on the asyncio engine (blocking handlers run in threads there)."""
    from mod_pywebsocket.server.aio import AioServer

    with (
        _serving(lambda o: AioServer(_options(o)), "--engine", "asyncio") as server,
        _collected_log() as log,
    ):
        yield Deployment(server.server_port, log)


@pytest.fixture(scope="module")
def apache_deployment() -> Iterator[Deployment]:
    sys.path.insert(0, str(APACHE_TESTS))
    from httpd import ApacheServer, require_apache

    require_apache()
    server = ApacheServer(
        handler_root=str(HANDLERS), extra_conf="PythonOption mod_pywebsocket.close_timeout 2"
    )
    try:
        server.start()
        # Apache writes one line per record with newlines escaped as "\n".
        yield Deployment(server.port, lambda: server.error_log().replace("\\n", "\n"))
    finally:
        server.stop()
        server.cleanup()


@pytest.fixture(scope="module")
def http2_deployment() -> Iterator[Deployment]:
    """The same handlers with --http2, each WebSocket an extended CONNECT on its own
    HTTP/2 connection made by the tunnel."""
    from mod_pywebsocket.server.threaded import ThreadedServer
    from tests.http2.tunnel import Tunnel

    with (
        _serving(lambda o: ThreadedServer(_options(o)), "--http2") as server,
        _collected_log() as log,
    ):
        tunnel = Tunnel("127.0.0.1", server.server_port)
        try:
            yield Deployment(tunnel.start(), log, http2=True, server_port=server.server_port)
            assert not tunnel.failures, tunnel.failures
        finally:
            tunnel.stop()


DEPLOYMENTS = ["standalone", "asyncio", "http2", "apache"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "http1_only(reason): about HTTP/1.1 handshake bytes; no http2 deployment"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes ``deployment`` (or ``port``) runs once per deployment."""
    if "deployment" not in metafunc.fixturenames:
        return
    names = DEPLOYMENTS
    if metafunc.definition.get_closest_marker("http1_only") is not None:
        names = [name for name in DEPLOYMENTS if name != "http2"]
    metafunc.parametrize("deployment", names, indirect=True, scope="module")


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest) -> Deployment:
    return request.getfixturevalue(f"{request.param}_deployment")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def port(deployment: Deployment) -> int:
    return deployment.port


@pytest.fixture(scope="module")
def server(standalone_server: standalone.WebSocketServer) -> standalone.WebSocketServer:
    """The in-process standalone server, for tests that inspect handler state."""
    return standalone_server
