"""The session layer's decisions, with no stream: close codes, the passive close,
keepalive, and the handshake outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from mod_pywebsocket.handlers.dispatch import HandlerSuite
from mod_pywebsocket.handlers.request import Request
from mod_pywebsocket.protocol.errors import (
    AbortedByUserException,
    BadOperationException,
    ConnectionTerminatedException,
    HandshakeException,
    InvalidFrameException,
    InvalidUTF8Exception,
    MessageTooBigException,
    UnsupportedFrameException,
    VersionException,
)
from mod_pywebsocket.protocol.handshake import Headers
from mod_pywebsocket.session import handshake, lifecycle


def request() -> Request:
    return Request(uri="/r", method="GET", headers_in=Headers(), connection=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (BadOperationException(), 1011),
        (InvalidFrameException(), 1002),
        (UnsupportedFrameException(), 1003),
        (InvalidUTF8Exception(), 1007),
        (MessageTooBigException(), 1009),
        (TimeoutError(), 1001),
        (ConnectionTerminatedException(), None),
        (ValueError(), None),
    ],
)
def test_close_code_after(exc: Exception, code: int | None) -> None:
    assert lifecycle.close_code_after(exc) == code


def test_passive_close_reply() -> None:
    assert lifecycle.passive_close_reply(None, request()) == (1000, "")
    assert lifecycle.passive_close_reply(lambda r: (1005, "x"), request()) == (None, "x")
    assert lifecycle.passive_close_reply(lambda r: (4000, None), request()) == (4000, "")  # type: ignore[arg-type, return-value]

    def abort(r: Request) -> tuple[int | None, str]:
        raise AbortedByUserException()

    with pytest.raises(AbortedByUserException):
        lifecycle.passive_close_reply(abort, request())


def test_failing_close_carries_the_code_only() -> None:
    assert lifecycle.failing_close_code(1002) == (1002, "")


def test_keepalive_tick() -> None:
    tick = lifecycle.keepalive_tick(
        now=10, last_received=0, ping_sent_at=None, interval=5, timeout=3
    )
    assert (tick.alive, tick.send_ping) == (True, True)
    quiet = lifecycle.keepalive_tick(
        now=2, last_received=0, ping_sent_at=None, interval=5, timeout=3
    )
    assert (quiet.alive, quiet.send_ping) == (True, False)
    waiting = lifecycle.keepalive_tick(
        now=12, last_received=0, ping_sent_at=10, interval=5, timeout=3
    )
    assert (waiting.alive, waiting.ping_sent_at) == (True, 10)
    late = lifecycle.keepalive_tick(now=14, last_received=0, ping_sent_at=10, interval=5, timeout=3)
    assert not late.alive
    answered = lifecycle.keepalive_tick(
        now=14, last_received=11, ping_sent_at=10, interval=5, timeout=3
    )
    assert (answered.alive, answered.ping_sent_at) == (True, None)


def test_reject_for_is_the_one_status_map() -> None:
    assert handshake.reject_for(HandshakeException("x")).status == 400
    assert handshake.reject_for(HandshakeException("x", 404)).status == 404
    version = handshake.reject_for(VersionException("v", "13, 8"))
    assert (version.status, version.headers) == (400, (("Sec-WebSocket-Version", "13, 8"),))


def suite(extra: Any) -> HandlerSuite:
    return HandlerSuite("/r", extra, lambda r: None, lambda r: (1000, ""))


def test_negotiate_outcomes() -> None:
    accept = handshake.Accept(b"101", None)  # type: ignore[arg-type]
    dialect = handshake.Dialect(handshake.check_subprotocol, lambda r: accept)
    assert handshake.negotiate(suite(lambda r: None), request(), dialect) is accept

    def aborts(r: Request) -> None:
        raise AbortedByUserException()

    assert isinstance(handshake.negotiate(suite(aborts), request(), dialect), handshake.Drop)

    def breaks(r: Request) -> None:
        raise KeyError("k")

    reject = handshake.negotiate(suite(breaks), request(), dialect)
    assert isinstance(reject, handshake.Reject) and reject.status == 403
    assert isinstance(reject.cause, KeyError)

    def chooses(r: Request) -> None:
        r.ws_protocol = "chat"

    reject = handshake.negotiate(suite(chooses), request(), dialect)
    assert isinstance(reject, handshake.Reject) and reject.status == 400


def test_record_peer_close() -> None:
    from mod_pywebsocket.protocol.events import Close

    r = request()
    assert lifecycle.record_peer_close(r, Close(None, "")) == 1005
    assert (r.ws_close_code, r.ws_close_reason) == (1005, "")
    assert lifecycle.record_peer_close(r, Close(4001, "é")) == 4001
    assert (r.ws_close_code, r.ws_close_reason) == (4001, "é")
