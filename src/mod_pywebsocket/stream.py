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
from .protocol.connection import DEFAULT_MAX_MESSAGE_SIZE, Connection
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
from .protocol.hybi00 import Hybi00Connection
from .server.legacy import ByteConnectionTransport, ConnectionTransport, StreamOptions
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
    "StreamHixie75",
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


def _raw_connection(request: Any, hybi00: bool = False) -> RawConnection:
    """The server's own connection as it is, or a harness's wrapped as a transport."""
    connection = request.connection
    if isinstance(connection, RawConnection):
        return connection
    transport = (ByteConnectionTransport if hybi00 else ConnectionTransport)(connection)
    return RawConnection(
        transport, _address(connection, "remote_addr"), _address(connection, "local_addr")
    )


class Stream(_SessionStream):
    """A message stream over ``request.connection`` (pywebsocket3's constructor).

    ``options`` is a :class:`StreamOptions`; its ``deflate_codec`` (set when
    permessage-deflate was agreed) compresses messages, ``unmask_receive``
    says whether frames from the peer must be masked and ``mask_send``
    whether ours are (a client's stream: pywebsocket3's example client builds
    one). The server's own connections get their stream from the session.
    """

    def __init__(self, request: Any, options: StreamOptions) -> None:
        core = Connection(
            codec=options.deflate_codec,
            require_mask=options.unmask_receive,
            mask_outgoing=options.mask_send,
        )
        super().__init__(
            request,
            _raw_connection(request),
            core,
            _passive_closing_of_dispatcher,
            DEFAULT_CLOSE_TIMEOUT,
        )
        self._legacy_options = options


class StreamHixie75(_SessionStream):
    """The HyBi 00 (hixie-76) message stream (mod_pywebsocket 0.7.9's class).

    Text messages between 0x00 and 0xFF; ``enable_closing_handshake`` sends
    and awaits the 0xFF 0x00 closing frame (HyBi 00); without it, as in
    hixie-75, closing only marks the stream closed and the caller drops TCP.
    """

    def __init__(self, request: Any, enable_closing_handshake: bool = False) -> None:
        super().__init__(
            request,
            _raw_connection(request, hybi00=True),
            Hybi00Connection(DEFAULT_MAX_MESSAGE_SIZE),
            None,
            DEFAULT_CLOSE_TIMEOUT,
        )
        self._enable_closing_handshake = enable_closing_handshake

    def close_connection(
        self, unused_code: object = "", unused_reason: object = "", wait_response: bool = True
    ) -> None:
        """Close; HyBi 00 carries no code or reason (0.7.9's signature ignores them)."""
        if self._enable_closing_handshake:
            super().close_connection(None, "", wait_response)
        else:
            self.mark_server_terminated()
