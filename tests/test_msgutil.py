"""msgutil.BoundedMessageSender over a stand-in stream whose peer can stall."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from mod_pywebsocket import common, msgutil


class StallableStream:
    """A ws_stream whose sends (and, like a blocking abort, aborts) wait for ``gate``."""

    def __init__(self, fail: bool = False) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()  # a send has started
        self.aborted = threading.Event()
        self.sent: list[tuple[Any, bool]] = []
        self.abort_args: tuple[int, str] | None = None
        self.fail = fail

    def send_message(self, message: Any, end: bool = True, binary: bool = False) -> None:
        self.entered.set()
        self.gate.wait()
        if self.fail:
            raise msgutil.ConnectionTerminatedException("send failed: broken pipe")
        self.sent.append((message, binary))

    def abort(self, code: int, reason: str) -> None:
        self.abort_args = (code, reason)
        self.aborted.set()
        self.gate.wait()


def sender_for(stream: StallableStream, **limits: Any) -> msgutil.BoundedMessageSender:
    return msgutil.BoundedMessageSender(
        SimpleNamespace(ws_stream=stream, ws_resource="/chat"), **limits
    )


def test_sends_in_order_with_the_binary_flag_then_stops_on_close() -> None:
    stream = StallableStream()
    stream.gate.set()
    sender = sender_for(stream)
    assert sender.send_nowait("a") and sender.send_nowait(b"b", binary=True)
    assert sender.send("c") is True  # waits until written
    sender.close()
    sender.join(5)
    assert not sender.is_alive()
    assert stream.sent == [("a", False), (b"b", True), ("c", False)]
    assert sender.send_nowait("late") is False and stream.abort_args is None


def test_overflow_drops_the_queue_and_aborts_that_connection_without_waiting() -> None:
    stream = StallableStream()  # the peer reads nothing: the first send never returns
    sender = sender_for(
        stream, max_queued_messages=3, overflow_code=4000, overflow_reason="too slow"
    )
    assert sender.send_nowait("in flight")
    assert stream.entered.wait(5)
    assert all(sender.send_nowait(f"queued {i}") for i in range(3))
    # The fourth would pass the bound. abort() here blocks as long as the peer
    # stalls, yet the caller returns at once: a broadcaster never waits.
    assert sender.send_nowait("one too many") is False
    assert stream.aborted.wait(5) and stream.abort_args == (4000, "too slow")
    assert sender.overflowed and sender.send_nowait("after") is False
    assert sender.send("after") is False
    stream.gate.set()  # the stalled send returns; the dropped messages are never sent
    sender.join(5)
    assert not sender.is_alive() and stream.sent == [("in flight", False)]


def test_byte_bound_counts_waiting_messages_and_allows_one_large_message() -> None:
    stream = StallableStream()
    sender = sender_for(stream, max_queued_bytes=10)
    assert sender.send_nowait(b"x" * 100, binary=True)  # taken by the sender at once
    assert stream.entered.wait(5)
    assert sender.send_nowait(b"y" * 100, binary=True)  # alone in the queue: accepted
    assert sender.send_nowait(b"z") is False
    assert stream.aborted.wait(5) and stream.abort_args is not None
    assert stream.abort_args[0] == common.STATUS_POLICY_VIOLATION
    stream.gate.set()
    sender.join(5)
    assert not sender.is_alive()


def test_a_broken_connection_ends_the_sender() -> None:
    stream = StallableStream(fail=True)
    stream.gate.set()
    sender = sender_for(stream)
    assert sender.send("lost") is False
    sender.join(5)
    assert not sender.is_alive() and sender.send_nowait("more") is False
    assert stream.abort_args is None  # nothing overflowed: the session reports the error


def test_message_sender_keeps_its_unbounded_pywebsocket3_behaviour() -> None:
    stream = StallableStream()
    sender = msgutil.MessageSender(SimpleNamespace(ws_stream=stream))
    for i in range(5000):  # no bound: all queue up behind a stalled peer
        sender.send_nowait(f"m{i}")
    assert stream.abort_args is None
    stream.gate.set()
    sender.send("last")
    assert len(stream.sent) == 5001 and stream.sent[-1] == ("last", False)
