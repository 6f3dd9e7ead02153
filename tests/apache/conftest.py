"""pytest fixtures for running tests against a real Apache httpd + mod_python.

    def test_something(apache_factory):
        server = apache_factory(handler_root=HANDLERS)       # started, port bound
        ws = connect(f"ws://127.0.0.1:{server.port}/echo")

``apache_factory`` starts as many servers as a test asks for and stops them at
teardown; when the test failed, each server's error_log is attached to the
report (section "httpd error_log").  Tests skip when apache2 or mod_python is
not installed, unless PYWEBSOCKET_REQUIRE_APACHE=1 (CI), where they fail.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from httpd import PROBE_DIR, ApacheServer, require_apache  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    servers: list[ApacheServer] = list(getattr(item, "_apache_servers", []))
    servers += [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, ApacheServer)]
    if report.failed and servers:
        for server in servers:
            report.sections.append(
                (f"httpd error_log ({server.base_dir})", server.error_log() or "(empty)")
            )


@pytest.fixture
def apache_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., ApacheServer]]:
    """Call with ApacheServer's arguments; returns a started server."""
    require_apache()
    servers: list[ApacheServer] = []
    request.node._apache_servers = servers

    def start(**kwargs: object) -> ApacheServer:
        server = ApacheServer(**kwargs)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.cleanup()


@pytest.fixture(scope="module")
def probe_server() -> Iterator[ApacheServer]:
    """One httpd running tests/apache/probe/probe_handler.py as the header parser."""
    require_apache()
    server = ApacheServer(
        header_parser="probe_handler",
        python_path=[PROBE_DIR],
        handler_root=PROBE_DIR,
        handler_scan=PROBE_DIR,
        timeout=300,
    )
    server.start()
    yield server
    server.cleanup()
