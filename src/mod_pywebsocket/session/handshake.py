"""The version-independent opening handshake, and its outcomes.

What must live here: the outcomes every driver serializes (:class:`Accept`,
:class:`Reject`, :class:`Drop`), the one map from a handshake error to its HTTP
status (:func:`reject_for`), the request's offer (version, origin,
subprotocols, extensions) as the handler sees it, the handler's extra
handshake and the rule its choices must follow. Nothing here knows HTTP/1.1's
Upgrade, key or bytes: that is ``http1``; an RFC 8441 (HTTP/2 CONNECT)
binding would build the same Request and call the same functions.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..handlers.dispatch import Dispatcher, DispatchException, HandlerSuite
from ..handlers.request import RawConnection, Request
from ..options import ServerOptions
from ..protocol import constants as c
from ..protocol import deflate
from ..protocol.connection import Connection, MessageCodec
from ..protocol.errors import AbortedByUserException, HandshakeException, VersionException
from ..protocol.extensions import parse_extensions
from ..protocol.handshake import Headers, HttpRequest, check_version, read_offer
from ..protocol.state import WebSocketCore
from ..protocol.trace import FrameTrace, TracedConnection
from .log import printable

_logger = logging.getLogger("mod_pywebsocket.session")
_frame_logger = logging.getLogger("mod_pywebsocket.frames")


@dataclass(frozen=True)
class Reject:
    """Answer with this HTTP status and close; ``cause`` is a handler's exception."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()
    cause: BaseException | None = None


@dataclass(frozen=True)
class Drop:
    """Close the connection without a response (the handler raised AbortedByUserException)."""

    reason: str = "aborted by handler"


@dataclass(frozen=True)
class Accept:
    """Write ``response`` (the binding's bytes), then run the handler over ``core``."""

    response: bytes
    core: WebSocketCore


def reject_for(exc: HandshakeException) -> Reject:
    """The one map from a handshake error to its answer: the exception's status
    (400 when it has none); a version we do not speak also names those we do
    (RFC 6455 4.4); a handler's own exception is kept as the cause."""
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(exc, VersionException):
        headers = ((c.SEC_WEBSOCKET_VERSION_HEADER, exc.supported_versions),)
    return Reject(exc.status or c.HTTP_STATUS_BAD_REQUEST, str(exc), headers, exc.__cause__)


@dataclass(frozen=True)
class Located:
    """The handler a resource names; ``resource`` without its fragment."""

    resource: str
    suite: HandlerSuite


def locate(
    dispatcher: Dispatcher, resource: str, *, decline_unknown: bool = False
) -> Located | Reject | None:
    """The handler for ``resource`` (path and query; API.md section 1), or the refusal:
    404 when there is none (None with ``decline_unknown``: the caller serves the
    request otherwise), 400 for a fragment (RFC 6455 3: a WebSocket URI has none)."""
    try:
        suite = dispatcher.handler_for(resource)
    except DispatchException as exc:  # a fragment on a handler's resource: 400
        return reject_for(HandshakeException(str(exc), exc.status))
    resource = resource.partition("#")[0]
    if suite is None:
        if decline_unknown:
            return None
        return reject_for(
            HandshakeException(
                f"no WebSocket handler for {resource[:200]}", c.HTTP_STATUS_NOT_FOUND
            )
        )
    return Located(resource, suite)


def new_request(
    http: HttpRequest,
    resource: str,
    connection: RawConnection,
    *,
    secure: bool,
    peer_certificate: object = None,
) -> Request:
    """The Request handlers see, before its ``ws_*`` fields are filled; ``http`` is
    the request as the binding parsed it (method, version, headers)."""
    request = Request(
        uri=resource,
        method=http.method,
        headers_in=http.headers,
        connection=connection,
        protocol=http.version,
        secure=secure,
    )
    request.peer_certificate = peer_certificate
    return request


@dataclass(frozen=True)
class Offer:
    """What the client asked for, whatever carried the request."""

    version: int
    origin: str | None
    protocols: list[str] | None
    extensions_header: str | None


def read_client_offer(headers: Headers) -> Offer:
    """The version (400 with the supported ones when we do not speak it), the origin,
    the offered subprotocols; raises HandshakeException."""
    version = check_version(headers)
    origin, protocols, extensions_header = read_offer(headers, version)
    return Offer(version, origin, protocols, extensions_header)


def apply_offer(request: Request, offer: Offer, options: ServerOptions) -> None:
    """Fill the request's ``ws_*`` fields from the offer (API.md section 3); the
    extensions header is parsed here (400 when malformed)."""
    request.ws_origin = offer.origin
    request.ws_version = offer.version
    request.ws_requested_protocols = offer.protocols
    if offer.extensions_header is not None:
        request.ws_requested_extensions = parse_extensions(offer.extensions_header)
    if options.enable_deflate:
        request.ws_extension_processors = list(
            deflate.processors_for(request.ws_requested_extensions, options.compression_level)
        )


def extra_handshake(
    suite: HandlerSuite, request: Request, hook: Callable[[Request], object] | None = None
) -> None:
    """Call ``web_socket_do_extra_handshake`` (API.md section 2), or ``hook`` in
    its place (a driver that awaited an async one replays its outcome).

    AbortedByUserException and HandshakeException pass through; anything
    else becomes HandshakeException with 403, its cause kept, as pywebsocket3's
    dispatcher does.
    """
    try:
        returned = (suite.do_extra_handshake if hook is None else hook)(request)
        if inspect.iscoroutine(returned):  # an async hook on a blocking engine
            returned.close()
            raise TypeError(
                "async def web_socket_do_extra_handshake runs on the asyncio engine only "
                "(--engine asyncio)"
            )
    except (AbortedByUserException, HandshakeException):
        raise
    except Exception as exc:
        raise HandshakeException(
            f"web_socket_do_extra_handshake raised an exception for {request.ws_resource}: "
            f"{type(exc).__name__}: {exc}",
            c.HTTP_STATUS_FORBIDDEN,
        ) from exc


def check_subprotocol(request: Request) -> None:
    """API.md section 3: pick one offered subprotocol, or none when none was offered."""
    offered = request.ws_requested_protocols
    chosen = request.ws_protocol
    if offered is None:
        if chosen is not None:
            raise HandshakeException(
                "the handler chose a subprotocol the client did not offer", 400
            )
    elif chosen is None:
        raise HandshakeException("no subprotocol was selected among those offered", 400)
    elif chosen not in offered:
        raise HandshakeException(f"subprotocol {chosen!r} was not offered", 400)


def negotiate_extensions(request: Request) -> tuple[str | None, MessageCodec | None]:
    """What the handler left in ws_extension_processors becomes the agreed extensions:
    (the response's extensions header, the codec), and ``ws_extensions``/``ws_deflate``."""
    processors = request.ws_extension_processors
    if not processors:  # nothing offered (or the handler removed every processor)
        request.ws_extensions = None
        request.ws_deflate = False
        return None, None
    accepted, header, codec = deflate.negotiate(list(processors))
    request.ws_extensions = accepted or None
    request.ws_deflate = codec is not None
    return header, codec


def new_core(options: ServerOptions, codec: MessageCodec | None, resource: str = "") -> Connection:
    """The RFC 6455 core with the server's limits.

    While the ``mod_pywebsocket.frames`` logger is enabled for debug
    (``--log-level debug``) the core is the traced one, which logs each frame
    in and out under ``resource``; otherwise nothing on the hot path changes.
    """
    if _frame_logger.isEnabledFor(logging.DEBUG):
        return TracedConnection(
            _frame_tracer(resource),
            max_message_size=options.max_message_size,
            max_frame_size=options.max_frame_size,
            codec=codec,
        )
    return Connection(
        max_message_size=options.max_message_size,
        max_frame_size=options.max_frame_size,
        codec=codec,
    )


def _frame_tracer(resource: str) -> Callable[[FrameTrace], None]:
    """What ``--log-level debug`` shows of each frame in and out of one connection."""
    name = printable(resource)

    def trace(frame: FrameTrace) -> None:
        _frame_logger.debug("%s: %s", name, frame.describe())

    return trace


class Dialect:
    """What differs between RFC 6455 and HyBi 00 once the handler has run: the rule
    its choices follow, and the accepting response with its core (a binding's)."""

    def __init__(
        self, check: Callable[[Request], None], accept: Callable[[Request], Accept]
    ) -> None:
        self.check = check
        self.accept = accept


def negotiate(
    suite: HandlerSuite,
    request: Request,
    dialect: Dialect,
    hook: Callable[[Request], object] | None = None,
) -> Accept | Reject | Drop:
    """Run the handler's extra handshake (or ``hook``, see :func:`extra_handshake`)
    and check its choices; the outcome to answer.

    Building the Accept (extension negotiation) is not guarded: an error
    there is a bug, and the driver reports it.
    """
    try:
        extra_handshake(suite, request, hook)
        dialect.check(request)
    except AbortedByUserException:
        _logger.info("%s: handshake aborted by the handler", printable(request.ws_resource))
        return Drop()
    except HandshakeException as exc:
        reject = reject_for(exc)
        if reject.cause is not None:
            _logger.warning(
                "%s: web_socket_do_extra_handshake raised; answering %d",
                printable(request.ws_resource),
                reject.status,
                exc_info=reject.cause,
            )
        else:
            _logger.info(
                "%s: handshake rejected (%d): %s",
                printable(request.ws_resource),
                reject.status,
                printable(str(exc)),
            )
        return reject
    return dialect.accept(request)
