"""In-process servers for tests: each serves from a daemon thread and is stopped
the way a shutdown needs (stop accepting, close the sockets, close the
connections with their grace, join the thread)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol, TypeVar


class Server(Protocol):
    def serve_forever(self, poll_interval: float = 0.5) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...
    def close_connections(self, code: int = ..., grace: float = ...) -> None: ...


S = TypeVar("S", bound=Server)


@contextlib.contextmanager
def serving(server: S, grace: float = 2.0) -> Iterator[S]:
    """``server`` serving in a thread for the ``with`` block; stopped after it."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.close_connections(grace=grace)
        thread.join(5)
