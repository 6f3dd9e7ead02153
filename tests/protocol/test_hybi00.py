"""HyBi 00 (hixie-76): the challenge-response handshake and 0x00..0xFF framing, no sockets."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mod_pywebsocket.protocol.errors import (
    BadOperationException,
    HandshakeException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
)
from mod_pywebsocket.protocol.hybi00 import (
    CLOSE,
    CLOSE_FRAME,
    HeaderLookup,
    Hybi00Event,
    Hybi00Handshake,
    Hybi00Parser,
    build_location,
    build_response,
    compute_challenge_response,
    encode_text,
    is_hybi00_request,
    validate_request,
)

# The worked example of draft-ietf-hybi-thewebsocketprotocol-00 (section 1.3 / 5.2).
KEY1 = "18x 6]8vM;54 *(5:  {   U1]8  z [  8"
KEY2 = "1_ tx7X d  <  nw  334J702) 7]o}` 0"
KEY3 = b"Tm[K T2u"
RESPONSE = b"fQJ,fN/4F4!~K~MH"

GOOD = {
    "Host": "example.com",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key2": KEY2,
    "Sec-WebSocket-Protocol": "sample",
    "Upgrade": "WebSocket",
    "Sec-WebSocket-Key1": KEY1,
    "Origin": "http://example.com",
}


def lookup(headers: dict[str, str]) -> HeaderLookup:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lambda name: lowered.get(name.lower())


def validate(
    headers: dict[str, str],
    *,
    method: str = "GET",
    target: str = "/demo",
    key3: bytes = KEY3,
    secure: bool = False,
    http_version: str = "HTTP/1.1",
) -> Hybi00Handshake:
    return validate_request(
        method, target, lookup(headers), key3, secure=secure, http_version=http_version
    )


def without(name: str) -> dict[str, str]:
    return {k: v for k, v in GOOD.items() if k != name}


def with_(name: str, value: str) -> dict[str, str]:
    return {**GOOD, name: value}


# Handshake.


def test_draft_worked_example() -> None:
    assert compute_challenge_response(KEY1, KEY2, KEY3) == RESPONSE
    result = validate(GOOD)
    assert result.challenge_response == RESPONSE
    assert result.origin == "http://example.com"
    assert result.location == "ws://example.com/demo"
    assert result.protocol == "sample"
    assert result.resource == "/demo"


def test_challenge_is_md5_of_big_endian_parts_and_key3() -> None:
    # "1 2" -> 12 / 1 space = 12; "  10" -> 10 / 2 spaces = 5.
    expected = hashlib.md5((12).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"abcdefgh").digest()
    assert compute_challenge_response("1 2", "  10", b"abcdefgh") == expected


def test_largest_part_is_accepted() -> None:
    key = f"{2**32 - 1} "
    compute_challenge_response(key, key, KEY3)


def test_secure_location_and_query() -> None:
    result = validate(GOOD, target="/demo?a=b", secure=True)
    assert result.location == "wss://example.com/demo?a=b"
    assert result.resource == "/demo?a=b"


@pytest.mark.parametrize(
    ("host", "secure", "location"),
    [
        ("example.com:80", False, "ws://example.com/r"),
        ("example.com:443", True, "wss://example.com/r"),
        ("example.com:8880", False, "ws://example.com:8880/r"),
        ("example.com:80", True, "wss://example.com:80/r"),
        ("[::1]", False, "ws://[::1]/r"),
        ("[::1]:9000", False, "ws://[::1]:9000/r"),
    ],
)
def test_location_drops_only_the_default_port(host: str, secure: bool, location: str) -> None:
    assert build_location(host, "/r", secure=secure, server_port=None) == location


def test_location_port_must_match_server_port() -> None:
    assert build_location("h:8880", "/", secure=False, server_port=8880) == "ws://h:8880/"
    assert build_location("h", "/", secure=False, server_port=80) == "ws://h/"
    with pytest.raises(HandshakeException) as info:
        build_location("h:8881", "/", secure=False, server_port=8880)
    assert info.value.status == 400


def test_optional_headers_may_be_missing() -> None:
    result = validate(without("Origin"))
    assert result.origin is None
    assert validate(without("Sec-WebSocket-Protocol")).protocol is None


def test_upgrade_and_connection_are_case_insensitive() -> None:
    validate({**GOOD, "Upgrade": "websocket", "Connection": "keep-alive, upgrade"})


def test_draft_zero_is_accepted() -> None:
    validate(with_("Sec-WebSocket-Draft", "0"))


@pytest.mark.parametrize(
    ("headers", "kwargs"),
    [
        pytest.param(without("Sec-WebSocket-Key1"), {}, id="missing-key1"),
        pytest.param(without("Sec-WebSocket-Key2"), {}, id="missing-key2"),
        pytest.param(with_("Sec-WebSocket-Key1", "1234"), {}, id="zero-spaces"),
        pytest.param(with_("Sec-WebSocket-Key1", "abc d"), {}, id="no-digit"),
        pytest.param(with_("Sec-WebSocket-Key1", "1   0"), {}, id="not-divisible"),
        pytest.param(with_("Sec-WebSocket-Key2", "7  "), {}, id="not-divisible-2"),
        pytest.param(with_("Sec-WebSocket-Key1", f"{2**32} "), {}, id="part-too-big"),
        pytest.param(with_("Sec-WebSocket-Key1", "9" * 5000 + " "), {}, id="huge-key"),
        pytest.param(with_("Sec-WebSocket-Key1", "\u00b2\u00b3 "), {}, id="non-ascii-digits"),
        pytest.param(with_("Upgrade", "HTTP/2"), {}, id="bad-upgrade"),
        pytest.param(without("Upgrade"), {}, id="missing-upgrade"),
        pytest.param(with_("Connection", "keep-alive"), {}, id="bad-connection"),
        pytest.param(without("Host"), {}, id="missing-host"),
        pytest.param(with_("Host", "h:port"), {}, id="bad-host-port"),
        pytest.param(with_("Host", "[::1"), {}, id="bad-host-v6"),
        pytest.param(with_("Sec-WebSocket-Draft", "2"), {}, id="draft-2"),
        pytest.param(with_("Sec-WebSocket-Protocol", ""), {}, id="empty-protocol"),
        pytest.param(with_("Sec-WebSocket-Protocol", "a\x7fb"), {}, id="bad-protocol"),
        pytest.param(GOOD, {"method": "POST"}, id="not-get"),
        pytest.param(GOOD, {"http_version": "HTTP/1.0"}, id="http-1.0"),
        pytest.param(GOOD, {"target": "demo"}, id="not-a-path"),
        pytest.param(GOOD, {"target": "/demo#x"}, id="fragment"),
        pytest.param(GOOD, {"key3": b"short"}, id="short-body"),
        pytest.param(GOOD, {"key3": b"123456789"}, id="long-body"),
    ],
)
def test_invalid_requests_are_400(headers: dict[str, str], kwargs: dict[str, Any]) -> None:
    with pytest.raises(HandshakeException) as info:
        validate(headers, **kwargs)
    assert info.value.status == 400


def test_is_hybi00_request() -> None:
    assert is_hybi00_request(lookup(GOOD))
    assert is_hybi00_request(lookup(without("Sec-WebSocket-Key1")))
    assert not is_hybi00_request(lookup(with_("Sec-WebSocket-Version", "13")))
    assert not is_hybi00_request(lookup({"Host": "h", "Sec-WebSocket-Key": "x"}))


def test_response_bytes_exactly() -> None:
    result = validate(GOOD)
    response = build_response(
        result.origin,
        result.location,
        result.protocol,
        result.challenge_response,
        [("X-A", "1"), ("Set-Cookie", "k=v\r\nX-Injected: yes")],
    )
    assert response == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Origin: http://example.com\r\n"
        b"Sec-WebSocket-Location: ws://example.com/demo\r\n"
        b"Sec-WebSocket-Protocol: sample\r\n"
        b"X-A: 1\r\n"
        b"Set-Cookie: k=v\r\nX-Injected: yes\r\n"
        b"\r\n"
        b"fQJ,fN/4F4!~K~MH"
    )


def test_response_without_origin_or_protocol() -> None:
    response = build_response(None, "wss://h/", None, RESPONSE, ())
    assert response == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Location: wss://h/\r\n"
        b"\r\n" + RESPONSE
    )


def test_response_needs_16_bytes() -> None:
    with pytest.raises(ValueError):
        build_response(None, "ws://h/", None, b"short")


# Framing.


def feed_all(parser: Hybi00Parser, chunks: list[bytes]) -> list[Hybi00Event]:
    events: list[Hybi00Event] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events


def test_encode_text_and_close_frame() -> None:
    assert encode_text("") == b"\x00\xff"
    assert encode_text("h\u00e9") == b"\x00h\xc3\xa9\xff"
    assert CLOSE_FRAME == b"\xff\x00"


def test_encode_text_refuses_lone_surrogates() -> None:
    with pytest.raises(BadOperationException):
        encode_text("\ud800")


def test_messages_in_one_chunk() -> None:
    parser = Hybi00Parser(1024)
    assert parser.feed(encode_text("a") + encode_text("") + encode_text("\u00e9\U0001f600")) == [
        "a",
        "",
        "\u00e9\U0001f600",
    ]
    assert not parser.closed


STREAM = (
    encode_text("Hello")
    + b"\x80\x03abc"  # a length-prefixed frame: discarded
    + encode_text("\u00e9t\u00e9 \U0001f600")
    + b"\x05ignored\xff"  # a delimited frame of another type: discarded
    + b"\x81\x81\x00"
    + b"x" * 128  # two length bytes (128): discarded
    + encode_text("last")
    + CLOSE_FRAME
)
STREAM_EVENTS: list[Hybi00Event] = ["Hello", "\u00e9t\u00e9 \U0001f600", "last", CLOSE]


def test_split_at_every_byte_boundary() -> None:
    for cut in range(len(STREAM) + 1):
        parser = Hybi00Parser(1024)
        assert feed_all(parser, [STREAM[:cut], STREAM[cut:]]) == STREAM_EVENTS, cut
        assert parser.closed


def test_split_at_every_two_boundaries() -> None:
    data = encode_text("ab\u00e9") + b"\x82\x02zz" + encode_text("c") + CLOSE_FRAME
    expected: list[Hybi00Event] = ["ab\u00e9", "c", CLOSE]
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            parser = Hybi00Parser(16)
            assert feed_all(parser, [data[:i], data[i:j], data[j:]]) == expected, (i, j)


def test_one_byte_at_a_time() -> None:
    parser = Hybi00Parser(1024)
    assert feed_all(parser, [bytes([b]) for b in STREAM]) == STREAM_EVENTS


def test_close_frame_ends_parsing() -> None:
    parser = Hybi00Parser(16)
    assert parser.feed(CLOSE_FRAME + encode_text("after")) == [CLOSE]
    assert parser.closed
    assert parser.feed(encode_text("later")) == []


def test_0xff_with_nonzero_length_is_discarded_not_close() -> None:
    parser = Hybi00Parser(16)
    assert parser.feed(b"\xff\x01x" + encode_text("a")) == ["a"]
    assert not parser.closed


def test_zero_length_prefixed_frame_is_discarded() -> None:
    parser = Hybi00Parser(16)
    assert parser.feed(b"\x80\x00" + b"\xfe\x80\x00" + encode_text("a")) == ["a"]


def test_invalid_utf8() -> None:
    with pytest.raises(InvalidUTF8Exception):
        Hybi00Parser(16).feed(b"\x00\xc3\x28\xff")
    # Encoded surrogates are not UTF-8 either.
    with pytest.raises(InvalidUTF8Exception):
        Hybi00Parser(16).feed(b"\x00\xed\xa0\x80\xff")


def test_invalid_utf8_in_discarded_frame_is_ignored() -> None:
    assert Hybi00Parser(16).feed(b"\x01\xc3\x28\xff") == []


def test_replace_mode_follows_the_draft() -> None:
    parser = Hybi00Parser(16, strict_utf8=False)
    assert parser.feed(b"\x00a\xc3\x28\xff") == ["a\ufffd("]


def test_text_frame_at_the_limit() -> None:
    parser = Hybi00Parser(4)
    assert parser.feed(encode_text("abcd")) == ["abcd"]


def test_oversized_text_frame_with_terminator() -> None:
    with pytest.raises(MessageTooBigException):
        Hybi00Parser(4).feed(encode_text("abcde"))


def test_oversized_text_frame_fails_before_its_end_arrives() -> None:
    parser = Hybi00Parser(4)
    assert parser.feed(b"\x00abcd") == []
    with pytest.raises(MessageTooBigException):
        parser.feed(b"e")


def test_oversized_discarded_delimited_frame() -> None:
    with pytest.raises(MessageTooBigException):
        Hybi00Parser(4).feed(b"\x01" + b"x" * 100)


def test_oversized_length_prefix_fails_on_the_length() -> None:
    # 0x81 0x00 says 128 bytes; no payload is needed to refuse it.
    with pytest.raises(MessageTooBigException):
        Hybi00Parser(127).feed(b"\x80\x81\x00")
    assert Hybi00Parser(128).feed(b"\x80\x81\x00") == []


def test_length_prefixed_payload_is_not_buffered() -> None:
    parser = Hybi00Parser(1 << 20)
    parser.feed(b"\x80\xc0\x00")  # 0x40 << 7 = 8192 bytes to discard
    for _ in range(8):
        assert parser.feed(b"x" * 1024) == []
        assert len(parser._buffer) == 0
    assert parser.feed(encode_text("after")) == ["after"]


def test_too_many_length_bytes() -> None:
    with pytest.raises(InvalidFrameException):
        Hybi00Parser(16).feed(b"\x80" + b"\x80" * 11 + b"\x00")


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        Hybi00Parser(-1)


@given(
    messages=st.lists(st.text(), max_size=8),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_round_trip(messages: list[str], cuts: list[int]) -> None:
    # Surrogates cannot be sent; st.text() can produce them.
    messages = [m.encode("utf-8", "replace").decode("utf-8") for m in messages]
    data = b"".join(encode_text(m) + b"\x80\x01z" for m in messages) + CLOSE_FRAME
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    parser = Hybi00Parser(1 << 16)
    assert feed_all(parser, chunks) == [*messages, CLOSE]
