"""http_header_util: the RFC 2616 scanner behaves as pywebsocket3's, under both import names."""

from __future__ import annotations

import pytest

import pywebsocket3.http_header_util
from mod_pywebsocket import http_header_util as h


def test_both_import_names_are_one_module() -> None:
    assert pywebsocket3.http_header_util is h


def test_peek_and_consume() -> None:
    state = h.ParsingState("abc")
    assert (h.peek(state), h.peek(state, 2), h.peek(state, 3)) == ("a", "c", None)
    assert h.consume(state, 2) == "ab"
    assert state.head == 2
    assert h.consume(state, 2) is None  # not enough left: nothing taken
    assert state.head == 2
    assert h.consume(state) == "c"
    assert h.peek(state) is None


def test_consume_string() -> None:
    state = h.ParsingState("foo=bar")
    assert not h.consume_string(state, "fox")
    assert state.head == 0
    assert h.consume_string(state, "foo")
    assert h.consume_string(state, "=")
    assert not h.consume_string(state, "barbar")
    assert h.consume_string(state, "bar")
    assert state.head == 7


@pytest.mark.parametrize(
    ("data", "taken", "head"),
    [
        (" \tx", True, 2),
        ("\r\n x", True, 3),
        ("\r\nx", False, 0),  # a CRLF without a following space is not LWS
        ("x", False, 0),
        ("", False, 0),
    ],
)
def test_consume_lws(data: str, taken: bool, head: int) -> None:
    state = h.ParsingState(data)
    assert h.consume_lws(state) is taken
    assert state.head == head


def test_consume_lwses() -> None:
    state = h.ParsingState(" \r\n \t\r\n  x")
    h.consume_lwses(state)
    assert h.peek(state) == "x"


@pytest.mark.parametrize(
    ("data", "token", "head"),
    [
        ("permessage-deflate; x", "permessage-deflate", 18),
        ("a!#$%&'*+-.^_`|~9Z,", "a!#$%&'*+-.^_`|~9Z", 18),
        (";x", None, 0),
        ("", None, 0),
        ("\x7fx", None, 0),  # DEL is a CTL
        ("\u00e9x", None, 0),  # not a CHAR
        ("ab\u00e9", "ab", 2),
        ("a b", "a", 1),
        ('a"b', "a", 1),
    ],
)
def test_consume_token(data: str, token: str | None, head: int) -> None:
    state = h.ParsingState(data)
    assert h.consume_token(state) == token
    assert state.head == head


@pytest.mark.parametrize(
    ("data", "value", "head"),
    [
        ("token rest", "token", 5),
        ('"quoted" rest', "quoted", 8),
        ('"a b"', "a b", 5),
        ('"a\\"b"', 'a"b', 6),
        ('"a\\\\b"', "a\\b", 6),
        ('"a\r\n \tb"', "a b", 8),  # LWS inside quotes is one space
        ('"a  b"', "a b", 6),  # so is a run of spaces
        ('"unterminated', None, 0),
        ('"ctl\x01"', None, 0),
        ('"bad pair \\\u00e9"', None, 0),
        ('"non-ascii \u00e9"', "non-ascii \u00e9", 13),
        ('""', "", 2),
        (";", None, 0),
    ],
)
def test_consume_token_or_quoted_string(data: str, value: str | None, head: int) -> None:
    state = h.ParsingState(data)
    assert h.consume_token_or_quoted_string(state) == value
    assert state.head == head


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("token", "token"),
        ("", '""'),
        ("a b", '"a b"'),
        ("a,b", '"a,b"'),
        ('a"b', '"a\\"b"'),
        ("a\x01b", '"a\\\x01b"'),
        ("a\\b", '"a\\b"'),  # the reference does not escape a backslash
        ("\u00e9", '"\u00e9"'),
    ],
)
def test_quote_if_necessary(value: str, quoted: str) -> None:
    assert h.quote_if_necessary(value) == quoted


def test_quoted_values_read_back() -> None:
    for value in ("a b", 'say "hi"', "x,y;z=1", ""):
        assert (
            h.consume_token_or_quoted_string(h.ParsingState(h.quote_if_necessary(value))) == value
        )


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("/ws/test", (None, None, "/ws/test")),
        ("/ws/test?a=b", (None, None, "/ws/test?a=b")),
        ("http://example.com/x", (None, None, "http://example.com/x")),  # not ws: relative
        ("ws://localhost:10080/ws/test", ("localhost", 10080, "/ws/test")),
        ("ws://example.com/ws/test", ("example.com", 80, "/ws/test")),
        ("wss://example.com/", ("example.com", 443, "/")),
        ("ws://example.com:8080", ("example.com", 8080, "/")),
        ("ws://Example.COM/a?b=c#d", ("example.com", 80, "/a?b=c#d")),
        ("ws://[::1]:9000/x", ("::1", 9000, "/x")),
        ("ws:///", (None, None, None)),
        ("ws://localhost:INVALID_PORT", (None, None, None)),
        ("ws://localhost:-1/ws", (None, None, None)),
        ("ws://localhost:70000/ws", (None, None, None)),
        ("ws://[::1/x", (None, None, None)),
    ],
)
def test_parse_uri(uri: str, parsed: tuple[str | None, int | None, str | None]) -> None:
    assert h.parse_uri(uri) == parsed
