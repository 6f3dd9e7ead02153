"""The HTTP/1.1 binding of the opening handshake (RFC 6455 4, and HyBi 00's).

What must live here: the incremental request-head reader with the limits
(:class:`RequestHeadReader`), routing an Upgrade request to its handler
(:func:`route`: the resource, the fragment rule, GET, HTTP/1.1,
Upgrade/Connection, the key, HyBi 00's detection), and the bytes an HTTP/1.1
connection answers with (:func:`reject_bytes`, the 101s). Everything that
does not depend on HTTP/1.1 is ``handshake``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..handlers.dispatch import Dispatcher, HandlerSuite
from ..handlers.request import RawConnection, Request
from ..options import ServerOptions
from ..protocol import constants as c
from ..protocol import hybi00
from ..protocol.errors import HandshakeException, VersionException
from ..protocol.handshake import (
    SUPPORTED_VERSIONS_HEADER,
    Headers,
    HttpRequest,
    accept_response,
    check_head_limits,
    check_http11_upgrade,
    check_key,
    check_partial_head,
    check_version,
    error_response,
    parse_header_line,
    parse_request_line,
    parse_well_formed_head,
    read_offer,
    resource_from_target,
)
from .handshake import (
    Accept,
    Dialect,
    Located,
    Offer,
    Reject,
    apply_offer,
    check_subprotocol,
    locate,
    negotiate_extensions,
    new_core,
    new_request,
    reject_for,
)

_BARE_CR_OR_LF = "bare CR or LF in the request head (lines end with CRLF)"


class RequestHeadReader:
    """Feed the bytes of a connection; get the request once its head is whole.

    :meth:`feed` answers None (more bytes needed), the :class:`HttpRequest`
    (its bytes past the blank line in :attr:`rest`), or a :class:`Reject`: a
    request line over ``max_request_line`` (414), headers over
    ``max_header_bytes`` or ``max_header_count`` (431), a bare CR or LF or a
    malformed line (400). Each line is checked once, as soon as it is
    complete, so a bad line is answered without waiting for the rest of the
    head or for the driver's timeout.
    """

    def __init__(
        self, *, max_request_line: int, max_header_bytes: int, max_header_count: int
    ) -> None:
        self._max_request_line = max_request_line
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._limit = max_request_line + max_header_bytes + 4
        self._buf = b""
        self._checked = 0  # where the first line not yet parsed starts
        self._line: tuple[str, str, str] | None = None
        self._fields: list[tuple[str, str]] = []
        self.rest = b""
        self.complete = False  # the blank line came (a refusal then is of a whole head)

    @classmethod
    def for_options(cls, options: ServerOptions) -> RequestHeadReader:
        return cls(
            max_request_line=options.max_request_line,
            max_header_bytes=options.max_header_bytes,
            max_header_count=options.max_header_count,
        )

    def feed(self, data: bytes) -> HttpRequest | Reject | None:
        try:
            return self._feed(data)
        except HandshakeException as exc:
            return reject_for(exc)

    def _feed(self, data: bytes) -> HttpRequest | None:
        buf = self._buf
        start = max(0, len(buf) - 3)
        buf += data
        end = buf.find(b"\r\n\r\n", start)
        if end >= 0:
            self._buf = b""
            self.complete = True
            self.rest = buf[end + 4 :]
            return self._complete(buf[:end])
        self._buf = buf
        self._checked = check_partial_head(buf, self._checked, self._parse_line)
        if b"\r\n" not in buf[: self._max_request_line + 2] and (len(buf) > self._max_request_line):
            raise HandshakeException("request line too long", c.HTTP_STATUS_URI_TOO_LONG)
        if len(buf) > self._limit:
            raise HandshakeException("request headers too large", c.HTTP_STATUS_HEADERS_TOO_LARGE)
        return None

    def _parse_line(self, line: bytes, first: bool) -> None:
        if first:
            self._line = parse_request_line(line)
        elif line:
            self._fields.append(parse_header_line(line))

    def _complete(self, head: bytes) -> HttpRequest:
        """The limits over the whole head, as parse_request_head applies them, then
        the lines the partial checks had not reached."""
        check_head_limits(
            head, self._max_request_line, self._max_header_bytes, self._max_header_count
        )
        if self._checked == 0:  # the whole head came at once (the usual case)
            request = parse_well_formed_head(head)
            if request is not None:
                return request
        checked = min(self._checked, len(head))
        # RFC 7230 3.5: a bare CR or LF would let two parsers see different headers.
        tail_crlf = head.count(b"\r\n", checked)
        if head.count(b"\n", checked) != tail_crlf or head.count(b"\r", checked) != tail_crlf:
            raise HandshakeException(_BARE_CR_OR_LF, 400)
        first = checked == 0
        for line in head[checked:].split(b"\r\n") if checked < len(head) or first else ():
            self._parse_line(line, first)
            first = False
        assert self._line is not None
        method, target, version = self._line
        return HttpRequest(method, target, version, Headers(self._fields))


def reject_bytes(reject: Reject) -> bytes:
    """An HTTP/1.1 error response for ``reject``; the connection then closes."""
    return error_response(reject.status, reject.message, list(reject.headers))


@dataclass(frozen=True)
class Upgrade:
    """A request routed to its handler, ready for :func:`handshake.negotiate`."""

    request: Request
    suite: HandlerSuite
    dialect: Dialect


@dataclass(frozen=True)
class Hybi00Upgrade:
    """A HyBi 00 request: its 8-byte key follows the head with no Content-Length, so
    the driver reads it and calls :meth:`complete`."""

    http: HttpRequest
    request: Request
    suite: HandlerSuite
    options: ServerOptions

    key3_length = 8

    def complete(self, key3: bytes) -> Upgrade | Reject:
        request = self.request
        http = self.http
        try:
            handshake = hybi00.validate_request(
                http.method,
                request.uri,
                http.headers.get,
                key3,
                secure=request.is_https(),
                http_version=http.version,
            )
        except HandshakeException as exc:
            return reject_for(exc)
        request.ws_version = c.VERSION_HYBI00
        request.ws_origin = handshake.origin
        request.ws_location = handshake.location
        request.ws_protocol = handshake.protocol
        request.ws_requested_protocols = [handshake.protocol] if handshake.protocol else None
        return Upgrade(request, self.suite, _hybi00_dialect(handshake, self.options))


def route(
    http: HttpRequest,
    connection: RawConnection,
    dispatcher: Dispatcher,
    options: ServerOptions,
    *,
    secure: bool = False,
    peer_certificate: object = None,
    decline_unknown: bool = False,
) -> Upgrade | Hybi00Upgrade | Reject | None:
    """Route an Upgrade request: the handler and the Request, or the refusal.

    Errors before the handler runs are refused here (400, 404, 400 with
    Sec-WebSocket-Version). With ``decline_unknown`` (Apache), a resource with
    no handler gives None so the server can serve the request itself.
    """
    try:
        resource = resource_from_target(
            http.target,
            secure=secure,
            validation_host=options.validation_host,
            validation_port=options.validation_port,
        )
    except HandshakeException as exc:
        return None if decline_unknown else reject_for(exc)
    located = locate(dispatcher, resource, decline_unknown=decline_unknown)
    if not isinstance(located, Located):
        return located
    resource, suite = located.resource, located.suite
    if hybi00.is_hybi00_request(http.headers.get):
        if not options.allow_hybi00:
            return reject_for(
                VersionException(
                    "HyBi 00 (hixie-76) is not enabled on this server", SUPPORTED_VERSIONS_HEADER
                )
            )
        return Hybi00Upgrade(
            http,
            new_request(
                http, resource, connection, secure=secure, peer_certificate=peer_certificate
            ),
            suite,
            options,
        )
    try:
        # RFC 6455 4.2.1, in this order: the HTTP/1.1 Upgrade, the version, the key,
        # the offer (the version and the offer are handshake's, binding-independent).
        check_http11_upgrade(http)
        version = check_version(http.headers)
        key = check_key(http.headers)
        offer = Offer(version, *read_offer(http.headers, version))
    except HandshakeException as exc:
        return reject_for(exc)
    request = new_request(
        http, resource, connection, secure=secure, peer_certificate=peer_certificate
    )
    try:
        apply_offer(request, offer, options)
    except HandshakeException as exc:
        return reject_for(exc)
    return Upgrade(request, suite, _rfc6455_dialect(key, options))


def _rfc6455_dialect(key: str, options: ServerOptions) -> Dialect:
    def accept(request: Request) -> Accept:
        header, codec = negotiate_extensions(request)
        response = accept_response(key, request.ws_protocol, header, request.extra_headers)
        return Accept(response, new_core(options, codec, request.ws_resource))

    return Dialect(check_subprotocol, accept)


def _hybi00_dialect(handshake: hybi00.Hybi00Handshake, options: ServerOptions) -> Dialect:
    def check(request: Request) -> None:
        """HyBi 00 echoes whatever the handler left in ws_protocol."""

    def accept(request: Request) -> Accept:
        response = hybi00.build_response(
            request.ws_origin,
            getattr(request, "ws_location", ""),
            request.ws_protocol,
            handshake.challenge_response,
            request.extra_headers,
        )
        return Accept(response, hybi00.Hybi00Connection(options.max_message_size))

    return Dialect(check, accept)
