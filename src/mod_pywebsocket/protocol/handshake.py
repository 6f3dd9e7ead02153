"""The opening handshake (RFC 6455 4.2), with no I/O.

``parse_request_head`` turns the bytes up to the blank line into an
:class:`HttpRequest`, enforcing the size limits; ``validate_websocket_request``
applies the RFC 6455 4.2.1 checks and returns what the handler sees;
``accept_response`` and ``error_response`` build the bytes to answer with.
Every failure is a ``HandshakeException`` carrying its HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import constants as c
from .errors import HandshakeException, VersionException
from .masking import HAS_SPEEDUPS
from .status import reason_phrase, status_line
from .tokens import TOKEN_PATTERN, is_token
from .uri import split_websocket_uri

# Defaults for the handshake limits; the options layer imports these.
DEFAULT_MAX_REQUEST_LINE = 8192
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_COUNT = 100

# RFC 7230 3.2.6: token characters.
_REQUEST_LINE_RE = re.compile(rf"({TOKEN_PATTERN}) (\S+) (HTTP/\d\.\d)")


class Headers:
    """HTTP headers: case-insensitive lookups, repeated fields joined with ', '.

    Also offers mod_python's ``headers_in`` surface (``get``, ``[]``, ``in``,
    ``keys``, ``items``) since handlers read ``request.headers_in``. One list
    holds the fields, each with its name lower-cased once (an interned string,
    one copy shared by every request that sends the header): a handshake looks
    up a dozen names, and a second index (a dict) is not worth its memory on
    every open connection.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] | None = None) -> None:
        self._fields: list[tuple[str, str, str]] = [
            (name, value, _folded(name)) for name, value in fields or ()
        ]

    @classmethod
    def from_folded(cls, fields: list[tuple[str, str, str]]) -> Headers:
        """Headers over ``fields`` as they are: (name, value, interned lower-cased name)."""
        headers = cls.__new__(cls)
        headers._fields = fields
        return headers

    def add(self, name: str, value: str) -> None:
        self._fields.append((name, value, _folded(name)))

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        found = None
        for _, value, folded in self._fields:
            if folded == key:
                if found is None:
                    found = value
                else:
                    found += ", " + value
        return default if found is None else found

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for _, value, folded in self._fields if folded == key]

    def __getitem__(self, name: str) -> str | None:
        """The value, or None when absent: pywebsocket3's standalone server hands
        handlers an ``http.client.HTTPMessage``, which answers None, and handlers
        test ``headers_in['Cookie']`` that way."""
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(folded == key for _, _, folded in self._fields)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _, _ in self._fields])

    def __len__(self) -> int:
        return len(self._fields)

    def keys(self) -> list[str]:
        return [name for name, _, _ in self._fields]

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value, _ in self._fields]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


def _folded(name: str) -> str:
    return sys.intern(name.lower())


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    version: str
    headers: Headers


_BARE_CR_OR_LF = "bare CR or LF in the request head (lines end with CRLF)"

_parse_head_c: Callable[[bytes], tuple[str, str, str, list[tuple[str, str, str]]] | None] | None
if HAS_SPEEDUPS:
    from ._speedups import parse_head as _parse_head_c
else:
    _parse_head_c = None


def parse_well_formed_head(head: bytes) -> HttpRequest | None:
    """The request a head (up to the blank line, excluded) holds, in one C call,
    when every line in it is well-formed; None otherwise, or without the C
    speedups, and the line-by-line parser then gives the request or the error.
    The size limits are the caller's."""
    if _parse_head_c is None:
        return None
    parsed = _parse_head_c(head)
    if parsed is None:
        return None
    method, target, version, fields = parsed
    return HttpRequest(method, target, version, Headers.from_folded(fields))


def check_head_limits(
    head: bytes, max_request_line: int, max_header_bytes: int, max_header_count: int
) -> None:
    """The size limits over a whole head (up to the blank line, excluded), in this
    order: the request line (414), the header bytes and the header count (431)."""
    first_end = head.find(b"\r\n")
    line_length = len(head) if first_end < 0 else first_end
    if line_length > max_request_line:
        raise HandshakeException("request line too long", c.HTTP_STATUS_URI_TOO_LONG)
    if len(head) - line_length > max_header_bytes:
        raise HandshakeException("request headers too large", c.HTTP_STATUS_HEADERS_TOO_LARGE)
    if head.count(b"\r\n") > max_header_count:
        raise HandshakeException("too many request headers", c.HTTP_STATUS_HEADERS_TOO_LARGE)


def parse_request_head(
    head: bytes,
    *,
    max_request_line: int = DEFAULT_MAX_REQUEST_LINE,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
) -> HttpRequest:
    """Parse the request line and headers (``head`` ends at the blank line, excluded)."""
    check_head_limits(head, max_request_line, max_header_bytes, max_header_count)
    request = parse_well_formed_head(head)
    if request is not None:
        return request
    lines = head.split(b"\r\n")
    # RFC 7230 3.5: a bare CR or LF would let two parsers see different headers.
    if head.count(b"\n") != len(lines) - 1 or head.count(b"\r") != len(lines) - 1:
        raise HandshakeException(_BARE_CR_OR_LF, 400)
    method, target, version = parse_request_line(lines[0])
    headers = Headers()
    for raw in lines[1:]:
        if raw:
            headers.add(*parse_header_line(raw))
    return HttpRequest(method, target, version, headers)


def parse_request_line(line: bytes) -> tuple[str, str, str]:
    """(method, target, version) of a request line without its CRLF; 400 when malformed."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise HandshakeException("request line is not ASCII", 400) from None
    m = _REQUEST_LINE_RE.fullmatch(text)
    if m is None:
        raise HandshakeException(f"malformed request line {text[:100]!r}", 400)
    return m.group(1), m.group(2), m.group(3)


def parse_header_line(raw: bytes) -> tuple[str, str]:
    """(name, value) of one header line without its CRLF; 400 when malformed."""
    name, sep, value = raw.partition(b":")
    if not sep or not name or name.translate(None, _TOKEN_BYTES):
        raise _header_line_fault(raw)
    value_s = value.strip(b" \t").decode("latin-1")
    # Names, and short values ("Upgrade", "websocket", "13"), repeat on every
    # connection: one shared copy each (interned strings die with their last user).
    return sys.intern(name.decode("ascii")), sys.intern(value_s) if len(value_s) <= 32 else value_s


_TOKEN_BYTES = c.HTTP_TOKEN_CHARS.encode("ascii")


def _header_line_fault(raw: bytes) -> HandshakeException:
    """What is wrong with a header line that is not ``token ":" value``."""
    if raw[:1] in (b" ", b"\t"):
        return HandshakeException("obsolete header line folding", 400)
    name, sep, _ = raw.partition(b":")
    if not sep:
        return HandshakeException(f"malformed header line {raw[:100]!r}", 400)
    try:
        name_s = name.decode("ascii")
    except UnicodeDecodeError:
        return HandshakeException("header name is not ASCII", 400)
    return HandshakeException(f"invalid header name {name_s[:100]!r}", 400)


def check_partial_head(
    data: bytes, start: int = 0, on_line: Callable[[bytes, bool], None] | None = None
) -> int:
    """Check the complete lines of a request head that is still arriving.

    ``start`` is 0 or what the previous call on the same growing ``data``
    returned: the start of the first incomplete line, where the next check
    begins. A bare CR or LF, or a complete line that :func:`parse_request_head`
    would refuse, raises HandshakeException (400) at once, so a driver answers
    without waiting for the rest of the head or for its timeout. ``data`` must
    not yet hold the blank line that ends the head. With ``on_line``, each
    complete line (without its CRLF, and whether it is the request line) goes
    to it instead of being parsed and dropped: it parses the line, or raises.
    """
    while True:
        end = data.find(b"\r\n", start)
        stop = len(data) if end < 0 else end
        # A CR as the very last byte may be the first half of a CRLF still to come.
        cr_stop = stop if end >= 0 else max(start, stop - 1)
        if data.find(b"\n", start, stop) >= 0 or data.find(b"\r", start, cr_stop) >= 0:
            raise HandshakeException(_BARE_CR_OR_LF, 400)
        if end < 0:
            return start
        if on_line is not None:
            on_line(data[start:end], start == 0)
        elif start == 0:
            parse_request_line(data[:end])
        else:
            parse_header_line(data[start:end])
        start = end + 2


def header_tokens(value: str | None) -> list[str]:
    """The comma-separated tokens of a header, lower-cased (``Connection``, ``Upgrade``)."""
    if not value:
        return []
    return [t.strip().lower() for t in value.split(",") if t.strip()]


def resource_from_target(
    target: str,
    *,
    secure: bool = False,
    validation_host: str | None = None,
    validation_port: int | None = None,
) -> str:
    """The resource (path, query and any fragment) a request target names.

    An absolute ``ws://``/``wss://`` target (RFC 6455 3) is reduced to its
    path and query; with ``validation_host``/``validation_port`` its authority
    must match. Every other target is taken as it is, so one that is not a
    path (``http://h/x``, ``*``) simply names no handler. A target naming
    another host, or no valid host or port, is answered 404 (HTTP_STATUS_NOT_FOUND),
    as pywebsocket3 does: it serves such a request as a plain HTTP request
    for a file that cannot exist.
    """
    if target.startswith("/"):
        return target
    try:
        split = split_websocket_uri(target)
    except ValueError as exc:  # no host, a bad port, an unbalanced '['
        raise HandshakeException(f"{exc} (request target)", 404) from None
    if split is None:
        return target
    host, port, resource = split
    if validation_host is not None and host != validation_host.lower():
        raise HandshakeException(f"host {host!r} is not {validation_host!r}", 404)
    if validation_port is not None and port != validation_port:
        raise HandshakeException(f"port {port} is not {validation_port}", 404)
    return resource


def path_of(resource: str) -> str:
    """The resource without its query: what dispatch matches (API.md section 1)."""
    return resource.partition("?")[0]


@dataclass(frozen=True)
class WebSocketRequest:
    """What RFC 6455 4.2.1 validation extracts from a handshake request."""

    version: int
    key: str
    origin: str | None
    protocols: list[str] | None
    extensions_header: str | None


def is_websocket_upgrade(request: HttpRequest) -> bool:
    """True when the request asks to upgrade to WebSocket (else it is plain HTTP)."""
    return "websocket" in header_tokens(request.headers.get(c.UPGRADE_HEADER))


def validate_websocket_request(request: HttpRequest) -> WebSocketRequest:
    """RFC 6455 4.2.1 checks; raises HandshakeException (400) or VersionException.

    The checks in their order: the HTTP/1.1 Upgrade (:func:`check_http11_upgrade`),
    the version (:func:`check_version`), the key (:func:`check_key`), then the
    offer (:func:`read_offer`). The version and the offer do not depend on
    HTTP/1.1; an RFC 8441 (HTTP/2 CONNECT) binding reuses them.
    """
    headers = request.headers
    check_http11_upgrade(request)
    version = check_version(headers)
    key = check_key(headers)
    origin, protocols, extensions_header = read_offer(headers, version)
    return WebSocketRequest(
        version=version,
        key=key,
        origin=origin,
        protocols=protocols,
        extensions_header=extensions_header,
    )


def check_http11_upgrade(request: HttpRequest) -> None:
    """RFC 6455 4.2.1 items 1-4: GET, HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade."""
    headers = request.headers
    if request.method != "GET":
        raise HandshakeException(f"method {request.method} is not GET", 400)
    if request.version != "HTTP/1.1":
        raise HandshakeException(f"{request.version} is not HTTP/1.1", 400)
    if not headers.get(c.HOST_HEADER):
        raise HandshakeException("Host header is missing", 400)
    if "websocket" not in header_tokens(headers.get(c.UPGRADE_HEADER)):
        raise HandshakeException("Upgrade header does not name websocket", 400)
    if "upgrade" not in header_tokens(headers.get(c.CONNECTION_HEADER)):
        raise HandshakeException("Connection header does not include Upgrade", 400)


SUPPORTED_VERSIONS_HEADER = ", ".join(str(v) for v in c.SUPPORTED_VERSIONS)
"""The Sec-WebSocket-Version value a refusal names (RFC 6455 4.4)."""


def check_version(headers: Headers) -> int:
    """RFC 6455 4.2.1 item 6 and 4.4: exactly one Sec-WebSocket-Version we speak."""
    version_values = headers.get_all(c.SEC_WEBSOCKET_VERSION_HEADER)
    supported = SUPPORTED_VERSIONS_HEADER
    if len(version_values) != 1:
        raise VersionException("missing or repeated Sec-WebSocket-Version", supported)
    try:
        version = int(version_values[0])
    except ValueError:
        version = -1
    if version not in c.SUPPORTED_VERSIONS or not version_values[0].isdigit():
        raise VersionException(f"unsupported version {version_values[0]!r}", supported)
    return version


def check_key(headers: Headers) -> str:
    """RFC 6455 4.2.1 item 5: one Sec-WebSocket-Key, 16 bytes in base64 (HTTP/1.1 only)."""
    keys = headers.get_all(c.SEC_WEBSOCKET_KEY_HEADER)
    if len(keys) != 1:
        raise HandshakeException("missing or repeated Sec-WebSocket-Key", 400)
    key = keys[0]
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise HandshakeException("Sec-WebSocket-Key is not 16 bytes", 400)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
        raise HandshakeException("Sec-WebSocket-Key is not base64", 400) from None
    return key


def read_offer(headers: Headers, version: int) -> tuple[str | None, list[str] | None, str | None]:
    """(origin, offered subprotocols, the raw extensions header) of a handshake request.

    HyBi 08 names the origin Sec-WebSocket-Origin; a malformed protocol list is 400.
    """
    if version == c.VERSION_HYBI08:
        origin = headers.get(c.SEC_WEBSOCKET_ORIGIN_HEADER)
    else:
        origin = headers.get(c.ORIGIN_HEADER)
    return (
        origin,
        parse_protocols(headers.get(c.SEC_WEBSOCKET_PROTOCOL_HEADER)),
        headers.get(c.SEC_WEBSOCKET_EXTENSIONS_HEADER),
    )


def parse_token_list(value: str) -> list[str]:
    """RFC 7230 7 ``1#token``: comma-separated tokens, empty elements skipped.

    Raises HandshakeException (400) for a non-token element or an empty list.
    """
    tokens = []
    for element in value.split(","):
        element = element.strip(" \t")
        if not element:
            continue
        if not is_token(element):
            raise HandshakeException(f"invalid token {element[:100]!r}", 400)
        tokens.append(element)
    if not tokens:
        raise HandshakeException("No valid token found", 400)
    return tokens


def parse_protocols(value: str | None) -> list[str] | None:
    """RFC 6455 4.1: Sec-WebSocket-Protocol is a comma-separated list of tokens."""
    if value is None:
        return None
    return parse_token_list(value)


def compute_accept(key: str) -> str:
    """RFC 6455 4.2.2: base64(SHA-1(key + GUID))."""
    digest = hashlib.sha1(key.encode("ascii") + c.WEBSOCKET_ACCEPT_UUID).digest()
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


# The 101 of a request that agreed on no subprotocol, no extension, no extra header.
_PLAIN_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: %s\r\n\r\n"
)


def accept_response(
    key: str,
    protocol: str | None = None,
    extensions: str | None = None,
    extra_headers: list[tuple[str, str]] | tuple[()] = (),
    *,
    accept: str | None = None,
) -> bytes:
    """The 101 response. ``extra_headers`` are written verbatim (API.md section 3),
    encoded as UTF-8 like pywebsocket3's; ``accept`` overrides the value computed
    from ``key``."""
    if accept is None:
        accept = compute_accept(key)
    if protocol is None and not extensions and not extra_headers:
        return _PLAIN_101 % accept.encode("utf-8")
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept}",
    ]
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    lines.extend(f"{name}: {value}" for name, value in extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def error_response(
    status: int,
    message: str = "",
    headers: list[tuple[str, str]] | tuple[()] = (),
    *,
    head_only: bool = False,
) -> bytes:
    """An HTTP/1.1 error response with a short text body; the connection then closes."""
    body = f"{status} {reason_phrase(status)}\n{message}\n".encode("utf-8", "replace")
    lines = [
        status_line(status),
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    lines.extend(f"{name}: {value}" for name, value in headers)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body
