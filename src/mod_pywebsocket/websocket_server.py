"""``websocket_server``: pywebsocket3's module of the standalone server class.

A compatibility face: ``WebSocketServer`` is ``standalone.WebSocketServer``
(web-platform-tests and others import it from here or from ``standalone``).
"""

from __future__ import annotations

from typing import Any

from .request_handler import WebSocketRequestHandler
from .standalone import WebSocketServer

__all__ = ["WebSocketRequestHandler", "WebSocketServer"]


def _alias_handlers(dispatcher: Any, websock_handlers_map_file: str) -> None:
    """Read a map file of ``alias existing`` lines into ``dispatcher`` (pywebsocket3 name)."""
    dispatcher.load_alias_file(websock_handlers_map_file)
