"""An in-process threaded server with chosen options, for limit and timeout tests."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server.threaded import ThreadedServer

EXAMPLE = Path(__file__).resolve().parents[2] / "example"


@pytest.fixture
def start_server() -> Iterator[Callable[..., ThreadedServer]]:
    """Call with ServerOptions fields; returns a serving ThreadedServer on a free port."""
    servers: list[tuple[ThreadedServer, threading.Thread]] = []

    def start(**overrides: object) -> ThreadedServer:
        base = ServerOptions(
            server_host="127.0.0.1",
            port=0,
            websock_handlers=str(EXAMPLE),
            document_root=str(EXAMPLE),
        )
        server = ThreadedServer(dataclasses.replace(base, **overrides))
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        server.close_connections(grace=2.0)
        thread.join(5)
