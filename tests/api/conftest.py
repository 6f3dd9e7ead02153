"""A server over tests/api/handlers started through the embedding API (as harnesses do)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mod_pywebsocket import standalone

HANDLERS = Path(__file__).resolve().parent / "handlers"


@pytest.fixture(scope="module")
def server() -> Iterator[standalone.WebSocketServer]:
    options, _ = standalone._parse_args_and_config(
        ["-H", "127.0.0.1", "-p", "0", "-w", str(HANDLERS), "-d", str(HANDLERS),
         "--close-timeout", "2"])
    ws_server = standalone.WebSocketServer(options)
    thread = threading.Thread(target=ws_server.serve_forever, daemon=True)
    thread.start()
    yield ws_server
    ws_server.shutdown()
    ws_server.server_close()
    ws_server.close_connections(grace=2.0)
    thread.join(5)


@pytest.fixture(scope="module")
def port(server: standalone.WebSocketServer) -> int:
    return int(server._sockets[0][0].getsockname()[1])
