"""The embedding API: this server inside another program, in a few lines.

    from mod_pywebsocket import Server, ServerOptions

    options = ServerOptions.from_args(["-p", "0", "-w", handlers, "-d", docroot])
    with Server(options) as server:        # listening once this returns
        url = f"ws://127.0.0.1:{server.port}/echo"
        ...
    # closed: Close 1001 sent, closing handshakes given the grace, sockets gone

pywebsocket3's names (``standalone._parse_args_and_config``,
``standalone.WebSocketServer`` with ``serve_forever``, ``shutdown``,
``server_close``) stay for the harnesses that use them; this is the API
to write new code against.
"""

from __future__ import annotations

import dataclasses
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .options import ServerOptions
from .protocol import constants as c
from .server.threaded import ThreadedServer

if TYPE_CHECKING:
    from .server.aio import AioServer

__all__ = ["Server", "ServerOptions"]


class Server:
    """The standalone server, run by its owner: ``start()``, then ``close()``.

    ``options`` is a :class:`ServerOptions` (or keyword overrides of its
    defaults). Unlike the command line, nothing here changes the process:
    no directory change, no signal handlers, no logging set-up; relative
    paths are relative to the working directory.
    """

    def __init__(self, options: ServerOptions | None = None, **overrides: Any) -> None:
        options = options if options is not None else ServerOptions()
        self.options = dataclasses.replace(options, **overrides) if overrides else options
        self._engine: ThreadedServer | AioServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Server:
        """Load the handlers, bind every address and serve in a thread of its own.

        Returns once the server is listening: a client may connect at once.
        Raises what a bad configuration raises (OSError for an address in use,
        ValueError for a TLS file, DispatchException for a scan directory).
        """
        if self._engine is not None:
            raise RuntimeError("the server is already started")
        engine: ThreadedServer | AioServer
        if self.options.engine == "asyncio":
            from .server.aio import AioServer  # asyncio loads only for this engine

            engine = AioServer(self.options)
        else:
            engine = ThreadedServer(self.options)
        thread = threading.Thread(
            target=engine.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="mod_pywebsocket-server",
            daemon=True,
        )
        self._engine, self._thread = engine, thread
        thread.start()
        return self

    def _running(self) -> ThreadedServer | AioServer:
        if self._engine is None:
            raise RuntimeError("the server is not started")
        return self._engine

    @property
    def port(self) -> int:
        """The port listened on (the one picked, when the options said 0)."""
        return self._running().server_port

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every (host, port) listened on: IPv4 and IPv6 when the host is ''."""
        return [sock.getsockname()[:2] for sock, _ in self._running()._sockets]

    @property
    def resources(self) -> list[str]:
        """The resources of the loaded handlers, sorted."""
        return self._running().dispatcher.resources()

    def connection_count(self) -> int:
        return self._running().connection_count()

    def close(self, grace: float | None = None) -> None:
        """Stop accepting, close every WebSocket with 1001 and give the closing
        handshakes ``grace`` seconds (default: the shutdown grace), then cut the
        rest and release the sockets. Safe to call twice."""
        engine, thread = self._engine, self._thread
        if engine is None or thread is None:
            return
        self._engine = self._thread = None
        engine.shutdown()
        engine.server_close()
        engine.close_connections(
            c.STATUS_GOING_AWAY, self.options.shutdown_grace if grace is None else grace
        )
        thread.join()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
