"""An in-process threaded server with chosen options, for limit and timeout tests."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server.threaded import ThreadedServer
from tests.serving import serving

EXAMPLE = Path(__file__).resolve().parents[2] / "example"


@pytest.fixture
def start_server() -> Iterator[Callable[..., ThreadedServer]]:
    """Call with ServerOptions fields; returns a serving ThreadedServer on a free port."""
    base = ServerOptions(
        server_host="127.0.0.1",
        port=0,
        websock_handlers=str(EXAMPLE),
        document_root=str(EXAMPLE),
    )
    with contextlib.ExitStack() as servers:
        yield lambda **overrides: servers.enter_context(
            serving(ThreadedServer(dataclasses.replace(base, **overrides)))
        )
