"""``stream``: frame builders, frame reading and the message stream (API.md 4, 6).

A compatibility face with pywebsocket3's names: the builders and
``parse_frame`` live in ``protocol/frames.py``, the stream in
``server/session.py`` (messages) and ``server/legacy.py`` (the frame-level
methods). :class:`Stream` here has pywebsocket3's constructor,
``Stream(request, options)``, for harnesses that run a stream over their own
``request.connection`` (web-platform-tests does, over HTTP/2).
"""

from __future__ import annotations

import logging
from typing import Any

from .options import DEFAULT_CLOSE_TIMEOUT
from .protocol.connection import Connection
from .protocol.errors import (
    BadOperationException,
    ConnectionTerminatedException,
    InvalidFrameException,
    InvalidUTF8Exception,
    UnsupportedFrameException,
)
from .protocol.frames import (
    FragmentedFrameBuilder,
    Frame,
    create_binary_frame,
    create_close_frame,
    create_closing_handshake_body,
    create_header,
    create_length_header,
    create_ping_frame,
    create_pong_frame,
    create_text_frame,
    parse_frame,
)
from .server.legacy import ConnectionTransport, StreamOptions
from .server.session import RawConnection
from .server.session import Stream as _SessionStream

__all__ = [
    "BadOperationException",
    "ConnectionTerminatedException",
    "FragmentedFrameBuilder",
    "Frame",
    "InvalidFrameException",
    "InvalidUTF8Exception",
    "Stream",
    "StreamOptions",
    "UnsupportedFrameException",
    "create_binary_frame",
    "create_close_frame",
    "create_closing_handshake_body",
    "create_header",
    "create_length_header",
    "create_ping_frame",
    "create_pong_frame",
    "create_text_frame",
    "parse_frame",
]

_logger = logging.getLogger("mod_pywebsocket.stream")


def _address(connection: Any, name: str) -> tuple[str, int] | None:
    address = getattr(connection, name, None)
    return (str(address[0]), int(address[1])) if address else None


def _passive_closing_of_dispatcher(request: Any) -> tuple[int | None, str]:
    """pywebsocket3's rule: the handler answers through ``request._dispatcher``, if set."""
    dispatcher = getattr(request, "_dispatcher", None)
    if dispatcher is None:
        return 1000, ""
    code, reason = dispatcher.passive_closing_handshake(request)
    if code is None and reason:
        _logger.warning("the passive closing handshake gave a reason without a code")
        reason = ""
    return code, reason or ""


class Stream(_SessionStream):
    """A message stream over ``request.connection`` (pywebsocket3's constructor).

    ``options`` is a :class:`StreamOptions`; its ``deflate_codec`` (set when
    permessage-deflate was agreed) compresses messages, ``unmask_receive``
    says whether frames from the peer must be masked. The server's own
    connections get their stream from the session instead.
    """

    def __init__(self, request: Any, options: StreamOptions) -> None:
        if options.mask_send:
            raise ValueError("this server's stream does not mask what it sends (a client's job)")
        connection = request.connection
        raw = RawConnection(ConnectionTransport(connection), _address(connection, "remote_addr"),
                            _address(connection, "local_addr"))
        core = Connection(codec=options.deflate_codec, require_mask=options.unmask_receive)
        super().__init__(request, raw, core, _passive_closing_of_dispatcher,
                         DEFAULT_CLOSE_TIMEOUT)
        self._legacy_options = options
