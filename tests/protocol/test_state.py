"""The closing-handshake state both cores share (protocol/state.py)."""

from __future__ import annotations

import dataclasses

import pytest

from mod_pywebsocket.protocol.connection import Connection
from mod_pywebsocket.protocol.events import Close, Failure, Ping, Pong
from mod_pywebsocket.protocol.hybi00 import Hybi00Connection
from mod_pywebsocket.protocol.state import TRANSITIONS, State
from tests.protocol.helpers import client_frame

CORES = [Connection, lambda: Hybi00Connection(1024)]


@pytest.mark.parametrize("make", CORES, ids=["rfc6455", "hybi00"])
def test_we_close_first(make) -> None:  # type: ignore[no-untyped-def]
    core = make()
    assert core.state is State.OPEN and not core.close_expected()
    core.send_close(1000, "")
    assert core.state is State.CLOSE_SENT and core.close_sent and not core.close_received
    close = client_frame(8, b"\x03\xe8") if isinstance(core, Connection) else b"\xff\x00"
    assert core.receive_data(close) == [
        Close(1000, "") if isinstance(core, Connection) else Close(None, "")
    ]
    assert core.state is State.CLOSED and core.close_received and core.close_expected()


@pytest.mark.parametrize("make", CORES, ids=["rfc6455", "hybi00"])
def test_peer_closes_first_then_nothing_more_is_read(make) -> None:  # type: ignore[no-untyped-def]
    core = make()
    close = client_frame(8, b"") if isinstance(core, Connection) else b"\xff\x00"
    assert core.receive_data(close) == [Close(None, "")]
    assert core.state is State.CLOSE_RECEIVED and not core.close_expected()
    assert core.receive_data(close) == []
    core.fail(1002)
    assert core.state is State.CLOSED


def test_marks_record_closes_the_core_did_not_build() -> None:
    core = Connection()
    core.mark_close_sent()
    assert core.state is State.CLOSE_SENT
    core.mark_close_sent()  # a second one changes nothing
    assert core.state is State.CLOSE_SENT
    core.mark_close_received()
    assert core.state is State.CLOSED


def test_eof_and_failure_end_the_connection_without_a_state_change() -> None:
    core = Connection()
    core.receive_eof()
    assert core.state is State.OPEN and core.eof_received and core.close_expected()
    core = Connection()
    [event] = core.receive_data(b"\x81\x05hello")  # not masked
    assert isinstance(event, Failure) and event.close_code == 1002
    assert core.close_expected() and core.state is State.OPEN


def test_transitions_are_a_table() -> None:
    assert TRANSITIONS[(State.OPEN, "send close")] is State.CLOSE_SENT
    assert TRANSITIONS[(State.CLOSE_RECEIVED, "send close")] is State.CLOSED
    assert all(after is not State.CONNECTING for after in TRANSITIONS.values())


def test_events_are_frozen_values() -> None:
    for event, field in (
        (Ping(b"a"), "payload"),
        (Pong(b"a"), "payload"),
        (Close(1000, "x"), "code"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(event, field, None)
    assert Ping(b"a") == Ping(b"a") and repr(Close(None, "")) == "Close(None, '')"
