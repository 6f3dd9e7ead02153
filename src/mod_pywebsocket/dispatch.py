"""``dispatch``: pywebsocket3's Dispatcher, for harnesses that drive handlers themselves.

A compatibility face over ``handlers/dispatch.py`` (loading and lookup) and
the session layer's handler lifecycle (``session/``). web-platform-tests
builds a ``Dispatcher`` and calls ``do_extra_handshake``, ``transfer_data``
and ``passive_closing_handshake`` around its own HTTP/2 transport; they do
exactly what this server does around its own connections.
"""

from __future__ import annotations

from typing import Any

from .handlers import dispatch as _dispatch
from .handlers.dispatch import DispatchException, HandlerSuite
from .session import handshake as _handshake
from .session import lifecycle as _lifecycle

__all__ = ["DispatchException", "Dispatcher"]


class Dispatcher(_dispatch.Dispatcher):
    """Loads the handlers under ``root_dir`` and runs them (pywebsocket3's class).

    As in pywebsocket3, handlers whose real path is outside ``root_dir`` are
    loaded unless ``allow_handlers_outside_root_dir`` is False (the server's
    own default is False).
    """

    def __init__(
        self,
        root_dir: str,
        scan_dir: str | None = None,
        allow_handlers_outside_root_dir: bool = True,
        handler_encoding: str | None = None,
    ) -> None:
        super().__init__(root_dir, scan_dir, allow_handlers_outside_root_dir, handler_encoding)

    def get_handler_suite(self, resource: str) -> HandlerSuite | None:
        """The handler of a resource; a fragment on a resource that has one is an error (400)."""
        return self.handler_for(resource)

    def _suite_for(self, request: Any) -> HandlerSuite:
        suite = self.get_handler_suite(request.ws_resource)
        if suite is None:
            raise DispatchException(f"No handler for: {request.ws_resource!r}")
        return suite

    def do_extra_handshake(self, request: Any) -> None:
        """Run the handler's extra handshake; an ordinary exception becomes 403."""
        _handshake.extra_handshake(self._suite_for(request), request)

    def transfer_data(self, request: Any) -> None:
        """Run the handler's transfer_data and close the WebSocket as the server does.

        Exceptions that map to a close code are handled here; an ordinary
        exception propagates, for the caller to drop the connection.
        """
        _lifecycle.transfer_data(self._suite_for(request), request)

    def passive_closing_handshake(self, request: Any) -> tuple[int | None, str]:
        """The (code, reason) to answer the peer's Close with."""
        suite = self.get_handler_suite(request.ws_resource)
        if suite is None:
            return _dispatch.default_passive_closing_handshake(request)
        return suite.passive_closing_handshake(request)  # type: ignore[no-any-return]
