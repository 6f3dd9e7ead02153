"""The handler's life after the 101, and the session's policies, as decisions.

What must live here: ``web_socket_transfer_data`` and the map from an
exception escaping it to a close code (API.md section 2), and the pure
decisions a stream makes on the peer's Close, Ping and protocol failure and
on a keepalive tick. The stream (a driver's) does the locking and the I/O.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..handlers.dispatch import HandlerSuite
from ..handlers.request import Request
from ..protocol import constants as c
from ..protocol.errors import AbortedByUserException, ConnectionTerminatedException, close_code_for
from ..protocol.events import Close
from .log import printable

_logger = logging.getLogger("mod_pywebsocket.session")

PassiveClosing = Callable[[Request], tuple[int | None, str]]
Hook = Callable[[Request, bytes], object]

# pywebsocket3 does not wait for the answer to these: the peer is going away or broken.
NO_WAIT_CODES = (c.STATUS_GOING_AWAY, c.STATUS_PROTOCOL_ERROR)


def close_code_after(exc: Exception) -> int | None:
    """The close code for an exception escaping ``web_socket_transfer_data``.

    The package's exceptions carry theirs (BadOperationException 1011,
    InvalidFrameException 1002, UnsupportedFrameException 1003,
    InvalidUTF8Exception 1007, MessageTooBigException 1009); the idle timeout
    (ours) is 1001. None: no Close frame (ConnectionTerminatedException, and
    every ordinary exception, which the caller drops the connection for).
    """
    if isinstance(exc, TimeoutError):
        return c.STATUS_GOING_AWAY
    return close_code_for(exc)


def transfer_data(suite: HandlerSuite, request: Request) -> None:
    """Run ``web_socket_transfer_data`` and finish the WebSocket (API.md section 2).

    pywebsocket3's dispatcher, exception by exception: a handler that returns
    gets the closing handshake with 1000; an exception with a close code
    (:func:`close_code_after`) sends that code, without a reason;
    ConnectionTerminatedException ends quietly. AbortedByUserException and
    every ordinary exception propagate: the caller drops the connection with
    no Close frame, the abnormal closure browser suites test for.
    """
    stream = request.ws_stream
    try:
        returned = suite.transfer_data(request)
        if inspect.iscoroutine(returned):  # an async handler on a blocking engine
            returned.close()
            raise TypeError(
                "async def web_socket_transfer_data runs on the asyncio engine only "
                "(--engine asyncio)"
            )
        if not request.server_terminated:
            assert stream is not None, "transfer_data needs request.ws_stream"
            stream.close_connection()
    except AbortedByUserException:
        raise
    except Exception as exc:
        if isinstance(exc, TimeoutError):
            _logger.info("%s: idle timeout", printable(request.ws_resource))
        code = close_code_after(exc)
        if code is None:
            if not isinstance(exc, ConnectionTerminatedException):
                raise
            _logger.debug("%s: connection terminated: %s", printable(request.ws_resource), exc)
            return
        _logger.debug(
            "%s: %s escaped the handler; closing with %d",
            printable(request.ws_resource),
            type(exc).__name__,
            code,
        )
        if not request.server_terminated:
            assert stream is not None, "transfer_data needs request.ws_stream"
            stream.close_connection(code)


def record_peer_close(request: Request, event: Close) -> int:
    """Give the handler the peer's Close (``ws_close_code``, ``ws_close_reason``);
    an empty body is 1005 (RFC 6455 7.1.5). Returns the code."""
    code = c.STATUS_NO_STATUS_RECEIVED if event.code is None else event.code
    request.ws_close_code = code
    request.ws_close_reason = event.reason
    return code


# A passive_closing_handshake reply that cannot be sent (a bad code) fails with this.
BAD_PASSIVE_REPLY_CODE = c.STATUS_INTERNAL_ENDPOINT_ERROR


def passive_close_reply(passive: PassiveClosing | None, request: Request) -> tuple[int | None, str]:
    """The (code, reason) answering the peer's Close: the handler's
    ``web_socket_passive_closing_handshake`` or 1000; echoing 1005 ("no
    status") is an empty Close body (None). AbortedByUserException
    propagates: the session drops TCP without a reply."""
    code: int | None = c.STATUS_NORMAL_CLOSURE
    reason: str | None = ""
    if passive is not None:
        code, reason = passive(request)
    if code == c.STATUS_NO_STATUS_RECEIVED:
        code = None
    return code, reason or ""


def ping_hook(request: Request) -> Hook | None:
    """The handler's ``on_ping_handler`` (it replaces the automatic Pong), or None.
    getattr: a harness's own request object may not have the hook (pywebsocket3
    looked it up the same way)."""
    hook: Hook | None = getattr(request, "on_ping_handler", None)
    return hook


def pong_hook(request: Request) -> Hook | None:
    hook: Hook | None = getattr(request, "on_pong_handler", None)
    return hook


def failing_close_code(close_code: int) -> tuple[int, str]:
    """The Close that fails the connection after a protocol error carries the code
    only, as pywebsocket3's does (suites compare the frame byte for byte); the
    reason goes to the log."""
    return close_code, ""


@dataclass(frozen=True)
class KeepaliveTick:
    """What one keepalive tick decided."""

    alive: bool  # False: the peer missed the deadline, cut the connection (1011)
    send_ping: bool  # send a Ping now, if the line and the socket are free
    ping_sent_at: float | None  # the unanswered ping's time, after this tick


def keepalive_tick(
    now: float, last_received: float, ping_sent_at: float | None, interval: float, timeout: float
) -> KeepaliveTick:
    """Ping a quiet peer; any data read since the ping counts as its answer."""
    if ping_sent_at is not None:
        answered = last_received >= ping_sent_at
        return KeepaliveTick(
            now - ping_sent_at <= timeout or answered, False, None if answered else ping_sent_at
        )
    return KeepaliveTick(True, now - last_received >= interval, None)
