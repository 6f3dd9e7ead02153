"""The HTTP/1.1 binding: the incremental request-head reader and routing."""

from __future__ import annotations

import random

import pytest

from mod_pywebsocket.protocol.errors import HandshakeException
from mod_pywebsocket.protocol.handshake import HttpRequest, check_partial_head, parse_request_head
from mod_pywebsocket.session.handshake import Reject
from mod_pywebsocket.session.http1 import RequestHeadReader

LIMITS = {"max_request_line": 40, "max_header_bytes": 120, "max_header_count": 5}


def reference(chunks: list[bytes]) -> object:
    """What the threaded driver did before the reader: partial checks while the head
    arrives, then parse_request_head (with its limits) on the whole head."""
    limit = LIMITS["max_request_line"] + LIMITS["max_header_bytes"] + 4
    buf, checked = b"", 0
    try:
        for chunk in chunks:
            start = max(0, len(buf) - 3)
            buf += chunk
            end = buf.find(b"\r\n\r\n", start)
            if end >= 0:
                request = parse_request_head(buf[:end], **LIMITS)
                return (
                    request.method,
                    request.target,
                    request.version,
                    request.headers.items(),
                    buf[end + 4 :],
                )
            checked = check_partial_head(buf, checked)
            if b"\r\n" not in buf[: LIMITS["max_request_line"] + 2] and (
                len(buf) > LIMITS["max_request_line"]
            ):
                raise HandshakeException("request line too long", 414)
            if len(buf) > limit:
                raise HandshakeException("request headers too large", 431)
    except HandshakeException as exc:
        return (exc.status, str(exc))
    return None


def read(chunks: list[bytes]) -> object:
    reader = RequestHeadReader(**LIMITS)
    for chunk in chunks:
        outcome = reader.feed(chunk)
        if isinstance(outcome, Reject):
            return (outcome.status, outcome.message)
        if isinstance(outcome, HttpRequest):
            return (
                outcome.method,
                outcome.target,
                outcome.version,
                outcome.headers.items(),
                reader.rest,
            )
    return None


HEADS = [
    b"GET /a HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\nrest",
    b"GET /a HTTP/1.1\r\n\r\n",
    b"\r\n\r\n",
    b"GET /" + b"a" * 60 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /" + b"a" * 60,
    b"GET /a HTTP/1.1\r\n" + b"".join(b"X%d: v\r\n" % i for i in range(8)) + b"\r\n",
    b"GET /a HTTP/1.1\r\nX: " + b"v" * 200 + b"\r\n\r\n",
    b"GET /a HTTP/1.1\r\nX: 1\nY: 2\r\n\r\n",
    b"GET /a HTTP/1.1\r\nX: 1\rY: 2\r\n\r\n",
    b"GET /a HTTP/1.1\r\n folded\r\n\r\n",
    b"GET /a HTTP/1.1\r\nno colon\r\n\r\n",
    b"GET /a HTTP/1.1\r\nN\xe9: v\r\n\r\n",
    b"GET /a\r\nHost: h\r\n\r\n",
    b"G\xc3\xa9T /a HTTP/1.1\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r",
    b"GET /a HTTP/1.1\r\nX: \xff\xfe\r\n\r\n\x00\x01",
]


@pytest.mark.parametrize("head", HEADS)
def test_reader_answers_as_the_two_pass_check_did_at_every_split(head: bytes) -> None:
    assert read([head]) == reference([head])
    for cut in range(1, len(head)):
        chunks = [head[:cut], head[cut:]]
        assert read(chunks) == reference(chunks), cut
    bytewise = [head[i : i + 1] for i in range(len(head))]
    assert read(bytewise) == reference(bytewise)


def test_reader_matches_on_random_heads() -> None:
    rng = random.Random(1455)
    pieces = [
        b"GET",
        b" ",
        b"/x",
        b"HTTP/1.1",
        b"\r\n",
        b"\r",
        b"\n",
        b"Host: h",
        b":",
        b"a" * 30,
        b"\t",
        b"\xff",
        b"X-Y: z",
    ]
    for _ in range(3000):
        head = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 20)))
        cuts = sorted(rng.sample(range(1, len(head) + 1), min(3, len(head))))
        chunks = [head[a:b] for a, b in zip([0, *cuts], [*cuts, len(head) + 1], strict=True)]
        assert read(chunks) == reference(chunks), chunks


def test_a_bad_line_is_refused_before_the_head_ends() -> None:
    reader = RequestHeadReader(**LIMITS)
    assert reader.feed(b"GET /a HTTP/1.1\r\n") is None
    outcome = reader.feed(b"bad line\r\n")
    assert isinstance(outcome, Reject) and outcome.status == 400 and not reader.complete
