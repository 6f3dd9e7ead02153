"""An in-process threaded server with --http2 over tests/http2/handlers."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mod_pywebsocket.options import ServerOptions
from mod_pywebsocket.server.threaded import ThreadedServer
from tests.serving import serving

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
STATIC = HERE / "static"


def _options(**overrides: object) -> ServerOptions:
    base = ServerOptions(
        server_host="127.0.0.1",
        port=0,
        websock_handlers=str(HANDLERS),
        document_root=str(STATIC),
        close_timeout=2.0,
        http2=True,
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def start_server() -> Iterator[Callable[..., ThreadedServer]]:
    """Call with ServerOptions fields; a serving --http2 server on a free port."""
    with contextlib.ExitStack() as servers:
        yield lambda **overrides: servers.enter_context(
            serving(ThreadedServer(_options(**overrides)))
        )


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with serving(ThreadedServer(_options())) as server:
        yield server


class AccessLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    handler = AccessLines()
    logger = logging.getLogger("mod_pywebsocket.access")
    old = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
