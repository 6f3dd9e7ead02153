"""The opening handshake, bytes in and bytes out (RFC 6455 4.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mod_pywebsocket.protocol.errors import HandshakeException, VersionException
from mod_pywebsocket.protocol.handshake import (
    accept_response,
    check_partial_head,
    compute_accept,
    error_response,
    is_websocket_upgrade,
    parse_request_head,
    resource_from_target,
    validate_websocket_request,
)

from .helpers import speedups

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def head(*headers: str, line: str = "GET /chat HTTP/1.1") -> bytes:
    return "\r\n".join((line, *headers)).encode()


GOOD = (
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
)


def test_rfc_example_accept() -> None:
    assert compute_accept(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_request() -> None:
    request = parse_request_head(head(*GOOD))
    assert is_websocket_upgrade(request)
    ws = validate_websocket_request(request)
    assert (ws.version, ws.key, ws.origin) == (13, KEY, "http://example.com")
    assert ws.protocols == ["chat", "superchat"]
    assert ws.extensions_header is None


def test_headers_are_case_insensitive_and_repeated_fields_join() -> None:
    request = parse_request_head(head("X-A: 1", "x-a: 2", "HOST: h"))
    assert request.headers.get("x-A") == "1, 2"
    assert request.headers["host"] == "h"
    assert "Host" in request.headers and "Missing" not in request.headers


def test_hybi08_origin_header() -> None:
    headers = [h for h in GOOD if not h.startswith(("Origin", "Sec-WebSocket-Version"))]
    request = parse_request_head(
        head(*headers, "Sec-WebSocket-Version: 8", "Sec-WebSocket-Origin: http://old.example")
    )
    ws = validate_websocket_request(request)
    assert (ws.version, ws.origin) == (8, "http://old.example")


def replace(name: str, value: str | None) -> tuple[str, ...]:
    kept = tuple(h for h in GOOD if not h.lower().startswith(name.lower() + ":"))
    return kept if value is None else (*kept, f"{name}: {value}")


@pytest.mark.parametrize(
    "headers, line",
    [
        (replace("Host", None), "GET /chat HTTP/1.1"),
        (replace("Upgrade", "h2c"), "GET /chat HTTP/1.1"),
        (replace("Connection", "keep-alive"), "GET /chat HTTP/1.1"),
        (replace("Sec-WebSocket-Key", None), "GET /chat HTTP/1.1"),
        (replace("Sec-WebSocket-Key", "c2hvcnQ="), "GET /chat HTTP/1.1"),
        (replace("Sec-WebSocket-Key", "not base64!!"), "GET /chat HTTP/1.1"),
        (replace("Sec-WebSocket-Protocol", "a b"), "GET /chat HTTP/1.1"),
        (GOOD, "POST /chat HTTP/1.1"),
        (GOOD, "GET /chat HTTP/1.0"),
    ],
)
def test_invalid_requests_are_400(headers: tuple[str, ...], line: str) -> None:
    with pytest.raises(HandshakeException) as info:
        validate_websocket_request(parse_request_head(head(*headers, line=line)))
    assert info.value.status == 400


@pytest.mark.parametrize("version", [None, "12", "14", "0", "13, 8", "abc"])
def test_unsupported_versions(version: str | None) -> None:
    with pytest.raises(VersionException) as info:
        validate_websocket_request(
            parse_request_head(head(*replace("Sec-WebSocket-Version", version)))
        )
    assert info.value.status == 400
    assert info.value.supported_versions == "13, 8"


def test_connection_header_token_list() -> None:
    request = parse_request_head(head(*replace("Connection", "keep-alive, Upgrade")))
    assert validate_websocket_request(request).version == 13


@pytest.mark.parametrize(
    ("raw", "fault"),
    [
        (b"GET /x\r\nHost: a", "malformed request line"),
        (b"GET  /x HTTP/1.1", "malformed request line"),
        (b"\xff / HTTP/1.1", "request line is not ASCII"),
        (b"GET /x HTTP/1.1\r\nNo colon", "malformed header line"),
        (b"GET /x HTTP/1.1\r\n folded: x", "obsolete header line folding"),
        (b"GET /x HTTP/1.1\r\n\tfolded", "obsolete header line folding"),
        (b"GET /x HTTP/1.1\r\nBad Name: x", "invalid header name 'Bad Name'"),
        (b"GET /x HTTP/1.1\r\n: x", "invalid header name ''"),
        (b"GET /x HTTP/1.1\r\nH\xe9: x", "header name is not ASCII"),
    ],
)
def test_malformed_heads_are_400(raw: bytes, fault: str) -> None:
    with pytest.raises(HandshakeException) as info:
        parse_request_head(raw)
    assert info.value.status == 400
    assert str(info.value).startswith(fault)


def test_header_values_lose_the_whitespace_around_them_only() -> None:
    request = parse_request_head(b"GET / HTTP/1.1\r\nX-A: \t a \t b\t \r\nX-B:\r\nX-C:\xe9")
    assert request.headers.items() == [("X-A", "a \t b"), ("X-B", ""), ("X-C", "\xe9")]
    assert request.headers.get("x-b") == ""
    assert list(request.headers) == request.headers.keys() == ["X-A", "X-B", "X-C"]
    assert "X-c" in request.headers and "X-D" not in request.headers


def test_limits() -> None:
    with pytest.raises(HandshakeException) as info:
        parse_request_head(head(line="GET /" + "a" * 100 + " HTTP/1.1"), max_request_line=50)
    assert info.value.status == 414
    with pytest.raises(HandshakeException) as info:
        parse_request_head(head(*[f"X-{i}: v" for i in range(11)]), max_header_count=10)
    assert info.value.status == 431
    with pytest.raises(HandshakeException) as info:
        parse_request_head(head("X: " + "v" * 200), max_header_bytes=100)
    assert info.value.status == 431


@pytest.mark.parametrize(
    "target, resource",
    [
        ("/echo", "/echo"),
        ("/echo?a=b", "/echo?a=b"),
        ("/x/../echo", "/x/../echo"),
        ("ws://localhost:8080/echo?q", "/echo?q"),
        ("wss://localhost/echo", "/echo"),
        ("ws://localhost:8080", "/"),
    ],
)
def test_resource_from_target(target: str, resource: str) -> None:
    assert resource_from_target(target) == resource


def test_resource_validation_answers_404_like_pywebsocket3() -> None:
    """pywebsocket3 serves a target naming another host, or no usable host or
    port, as a plain HTTP request for a file that cannot exist: 404."""
    assert resource_from_target("ws://h:81/a", validation_host="h", validation_port=81) == "/a"
    for target, host, port in [
        ("ws://h:81/a", "other", None),
        ("ws://h:81/a", None, 80),
        ("ws://h/a", None, 443),
        ("ws://h:99999/a", None, None),
        ("ws:///a", None, None),
        ("ws://[::1/a", None, None),
    ]:
        with pytest.raises(HandshakeException) as info:
            resource_from_target(target, validation_host=host, validation_port=port)
        assert info.value.status == 404


def test_targets_that_are_not_ws_uris_are_taken_as_they_are() -> None:
    """No handler resource starts with anything but '/', so these end in 404 at dispatch."""
    for target in ("ftp://h/a", "http://h/echo", "echo", "*"):
        assert resource_from_target(target) == target
    assert resource_from_target("/a#frag") == "/a#frag"
    assert resource_from_target("ws://h/a?q#frag") == "/a?q#frag"


def test_accept_response_is_exact_and_extra_headers_verbatim() -> None:
    response = accept_response(KEY, "chat", None, [("X-Test", "a\r\nX-Injected: b")])
    assert response == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
        b"X-Test: a\r\nX-Injected: b\r\n\r\n"
    )


def test_a_plain_accept_response_is_the_same_bytes() -> None:
    """No subprotocol, extension or extra header: the 101 built in one step is
    byte for byte the general one (suites compare it), the override too."""
    expected = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    assert accept_response(KEY) == accept_response(KEY, None, "", []) == expected
    assert accept_response(KEY, accept="x\u00e9") == expected.replace(
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "x\u00e9".encode()
    )
    general = accept_response(KEY, "p")
    assert general == expected[:-2] + b"Sec-WebSocket-Protocol: p\r\n\r\n"


def test_error_response() -> None:
    response = error_response(400, "bad", [("Sec-WebSocket-Version", "13, 8")])
    head_part, _, body = response.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Sec-WebSocket-Version: 13, 8" in head_part
    assert b"Content-Length: %d" % len(body) in head_part


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\nHost: x\r\n",  # bare LF
        b"GET / HTTP/1.1\r\nHost: x\ry\r\n",  # bare CR
        b"GET / HTTP/1.1\r\nHost: a\nb\r\n",  # bare LF inside a header value
    ],
)
def test_bare_cr_or_lf_is_400(data: bytes) -> None:
    with pytest.raises(HandshakeException) as info:
        parse_request_head(data + b"Upgrade: websocket")
    assert info.value.status == 400
    with pytest.raises(HandshakeException) as info:
        check_partial_head(data)
    assert info.value.status == 400


def test_check_partial_head_checks_complete_lines_only_once() -> None:
    assert check_partial_head(b"GET / HT") == 0  # nothing complete yet
    assert check_partial_head(b"GET / HTTP/1.1\r") == 0  # the LF may still come
    data = b"GET / HTTP/1.1\r\nHost: x\r\nUpgr"
    offset = check_partial_head(data)
    assert data[offset:] == b"Upgr"
    assert check_partial_head(data + b"ade: websocket\r\n", offset) == len(data) + 16
    for bad in (
        b"GET /\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n",
        b"G\xc3\xa9T / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r\n folded\r\n",
    ):
        with pytest.raises(HandshakeException) as info:
            check_partial_head(bad)
        assert info.value.status == 400, bad


# --- the C head parser (_speedups.parse_head) ----------------------------------------

_ODD = (b"", b" ", b"\t", b"\r", b"\n", b"\x01", b"\x1c", b"\x7f", b"\xe9", b"@", b":")


def _pieces(*good: bytes) -> st.SearchStrategy[bytes]:
    """One piece of a line: mostly a well-formed one, sometimes a mix with what
    a parser must refuse."""
    return st.one_of(
        st.sampled_from(good),
        st.sampled_from(good),
        st.sampled_from(good),
        st.lists(st.sampled_from(good + _ODD), min_size=1, max_size=3).map(b"".join),
    )


_REQUEST_LINE = st.tuples(
    _pieces(b"GET", b"get", b"M-SEARCH"),
    _pieces(b" "),
    _pieces(b"/", b"/chat?x=1", b"ws://h:80/a", b"*"),
    _pieces(b" "),
    _pieces(b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.", b"HTTP/a.1", b"HTTP/1.12"),
).map(b"".join)
_HEADER_LINE = st.tuples(
    _pieces(b"Host", b"X-Y", b"upgrade", b"a" * 40),
    _pieces(b":", b": ", b"::", b":\t"),
    _pieces(b"value", b" v \t", b"\xff\xfe", b"websocket, Upgrade", b"x" * 40, b""),
).map(b"".join)


def _pure(head: bytes) -> object:
    """parse_request_head without the C parser: the request, or the refusal."""
    from mod_pywebsocket.protocol import handshake

    saved = handshake._parse_head_c
    handshake._parse_head_c = None
    try:
        request = parse_request_head(head)
    except HandshakeException as exc:
        return ("refused", exc.status, str(exc))
    finally:
        handshake._parse_head_c = saved
    return (request.method, request.target, request.version, request.headers._fields)


@settings(max_examples=1000, deadline=None)
@given(line=_REQUEST_LINE, headers=st.lists(_HEADER_LINE, max_size=8))
def test_the_c_head_parser_agrees_with_the_line_parser(line: bytes, headers: list[bytes]) -> None:
    """For any head, parse_head either declines (None: the line parser then
    answers) or gives exactly the line parser's request: the same strings,
    every header with its folded name, and nothing it would refuse."""
    parse = speedups().parse_head
    data = b"\r\n".join([line, *headers])
    parsed = parse(data)
    if parsed is not None:
        method, target, version, fields = parsed
        assert _pure(data) == (method, target, version, fields)


def test_the_c_head_parser_takes_well_formed_heads_and_declines_the_rest() -> None:
    parse = speedups().parse_head
    good = head(*GOOD, "X-Empty:", "X-Spaces: \t a b \t", "X-Latin: caf\xe9".encode().decode())
    parsed = parse(good + "\r\nX-Raw: \xe9".encode("latin-1"))
    assert parsed is not None
    method, target, version, fields = parsed
    assert (method, target, version) == ("GET", "/chat", "HTTP/1.1")
    assert fields[0] == ("Host", "server.example.com", "host")
    assert ("X-Empty", "", "x-empty") in fields
    assert ("X-Spaces", "a b", "x-spaces") in fields
    assert fields[-1] == ("X-Raw", "\xe9", "x-raw")
    assert fields == _pure(good + "\r\nX-Raw: \xe9".encode("latin-1"))[3]  # type: ignore[index]
    for bad in (
        head(*GOOD, line="GET /chat HTTP/1.1 "),
        head(*GOOD, line="GET  /chat HTTP/1.1"),
        head(*GOOD, line="GET /chat HTTP/11"),
        head(*GOOD, line="G\u00e9T /chat HTTP/1.1"),
        head(*GOOD, " folded"),
        head(*GOOD, "No-Colon"),
        head(*GOOD, "Bad Name: x"),
        head(*GOOD) + b"\rX: y",
        head(*GOOD) + b"\nX: y",
        head(*GOOD) + b"\r",
    ):
        assert parse(bad) is None, bad
    interned = parse(good)
    again = parse(good)
    assert interned is not None and again is not None
    assert interned[3][1][2] is again[3][1][2]  # folded names: one shared copy
    assert interned[3][1][1] is again[3][1][1]  # short values too
