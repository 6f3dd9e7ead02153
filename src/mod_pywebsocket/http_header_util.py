"""``http_header_util``: the RFC 2616 header scanner of pywebsocket3 and mod_pywebsocket 0.7.9.

A compatibility face. Handlers and ``common.parse_extensions`` walk header
values with a ``ParsingState`` and the ``consume_*`` functions, each of
which takes what it recognises from the head of the state and leaves the
head where it was when it does not. A token is what ``protocol.tokens``
matches, as everywhere in the package. The server's own handshake parser
(``protocol.handshake``, ``protocol.extensions``) does not go through here.
"""

from __future__ import annotations

# quote_if_necessary is this module's name too (common and handlers call it here).
from .protocol.tokens import TOKEN, is_ctl
from .protocol.tokens import quote_if_necessary as quote_if_necessary
from .protocol.uri import split_websocket_uri

# RFC 2616 2.2: separators, which end a token and force quoting.
_SEPARATORS = '()<>@,;:\\"/[]?={} \t'


def _is_char(ch: str) -> bool:
    """RFC 2616 CHAR: any US-ASCII character."""
    return ord(ch) <= 127


class ParsingState:
    """A header value and the position (``head``) the next consume_* starts at."""

    def __init__(self, data: str) -> None:
        self.data = data
        self.head = 0


def peek(state: ParsingState, pos: int = 0) -> str | None:
    """The character ``pos`` places after the head, or None past the end."""
    if state.head + pos >= len(state.data):
        return None
    return state.data[state.head + pos]


def consume(state: ParsingState, amount: int = 1) -> str | None:
    """Take ``amount`` characters from the head; None (nothing taken) if fewer are left."""
    if state.head + amount > len(state.data):
        return None
    result = state.data[state.head : state.head + amount]
    state.head += amount
    return result


def consume_string(state: ParsingState, expected: str) -> bool:
    """Take ``expected`` if the data continues with it; True when taken."""
    if not state.data.startswith(expected, state.head):
        return False
    state.head += len(expected)
    return True


def consume_lws(state: ParsingState) -> bool:
    """Take one LWS (``[CRLF] 1*(SP | HT)``); True when taken.

    A CRLF not followed by a space or tab is left in place.
    """
    original_head = state.head
    consume_string(state, "\r\n")
    pos = state.head
    data = state.data
    while pos < len(data) and data[pos] in " \t":
        pos += 1
    if pos == state.head:
        state.head = original_head
        return False
    state.head = pos
    return True


def consume_lwses(state: ParsingState) -> None:
    """Take any number of LWS."""
    while consume_lws(state):
        pass


def consume_token(state: ParsingState) -> str | None:
    """Take a token (RFC 2616 2.2) and return it; None when none starts at the head."""
    m = TOKEN.match(state.data, state.head)
    if m is None:
        return None
    state.head = m.end()
    return m.group()


def consume_token_or_quoted_string(state: ParsingState) -> str | None:
    """Take a token, or a quoted-string and return its text unquoted; None when neither.

    Inside the quotes a quoted-pair gives its character, and each LWS counts
    as one space. An unterminated string, a CTL, or a non-ASCII character
    after a backslash is no quoted-string: nothing is taken.
    """
    original_head = state.head
    if not consume_string(state, '"'):
        return consume_token(state)
    result: list[str] = []
    expect_quoted_pair = False
    while True:
        if not expect_quoted_pair and consume_lws(state):
            result.append(" ")
            continue
        ch = consume(state)
        if ch is None:
            state.head = original_head
            return None
        if expect_quoted_pair:
            expect_quoted_pair = False
            if not _is_char(ch):
                state.head = original_head
                return None
            result.append(ch)
        elif ch == "\\":
            expect_quoted_pair = True
        elif ch == '"':
            return "".join(result)
        elif is_ctl(ch):
            state.head = original_head
            return None
        else:
            result.append(ch)


def parse_uri(uri: str) -> tuple[str | None, int | None, str | None]:
    """``(host, port, resource)`` of a ws:// or wss:// URI.

    The resource is the path (``/`` when empty) with its query and fragment;
    the port defaults to 80 or 443. Any other URI is taken as relative:
    ``(None, None, uri)``. A ws/wss URI without a host, or with a bad port,
    gives ``(None, None, None)`` (so does one urlsplit refuses, such as an
    unbalanced ``[``, where the reference raised ValueError).
    """
    try:
        split = split_websocket_uri(uri)
    except ValueError:
        return None, None, None
    if split is None:
        return None, None, uri
    return split
