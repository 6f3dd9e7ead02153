"""The closing-handshake state every protocol core shares, and the core's interface.

What must live here: the :class:`State` enum, its transitions (a table, not
flags spread over classes), and :class:`WebSocketCore`, the one interface a
driver's stream uses for either dialect (RFC 6455's ``connection.Connection``
and HyBi 00's ``hybi00.Hybi00Connection``). The frame and message rules stay
in those modules; this one knows only which Close went which way.
"""

from __future__ import annotations

import enum
from typing import Final, Protocol

from .events import Event


class State(enum.Enum):
    """Where a connection is in its closing handshake (RFC 6455 7).

    A core starts OPEN (it is built once the opening handshake succeeded; a
    session still reading its handshake is CONNECTING). The end of the TCP
    stream is not a state of the handshake: it is :attr:`ClosingHandshake.eof_received`.
    """

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSE_SENT = "close sent"  # ours left, the peer's has not come
    CLOSE_RECEIVED = "close received"  # the peer's came, ours has not left
    CLOSED = "closed"  # both Closes went


CONNECTING: Final = State.CONNECTING
OPEN: Final = State.OPEN
CLOSE_SENT: Final = State.CLOSE_SENT
CLOSE_RECEIVED: Final = State.CLOSE_RECEIVED
CLOSED: Final = State.CLOSED

# The transitions, as data: (state, what happened) -> next state. A pair that is
# not here leaves the state as it is (a second Close either way changes nothing).
SEND_CLOSE: Final = "send close"
RECEIVE_CLOSE: Final = "receive close"
TRANSITIONS: Final[dict[tuple[State, str], State]] = {
    (OPEN, SEND_CLOSE): CLOSE_SENT,
    (OPEN, RECEIVE_CLOSE): CLOSE_RECEIVED,
    (CLOSE_SENT, RECEIVE_CLOSE): CLOSED,
    (CLOSE_RECEIVED, SEND_CLOSE): CLOSED,
}


class ClosingHandshake:
    """The state half of a core: one ``state``, the receive failure, the peer's EOF.

    ``close_sent`` and ``close_received`` are views of ``state`` (the
    request's ``server_terminated`` and ``client_terminated`` are views of
    these). Cores check ``state`` by identity on their hot paths.
    """

    __slots__ = ("eof_received", "failed", "state")

    def __init__(self) -> None:
        self.state = OPEN
        self.failed: Exception | None = None  # the peer broke the protocol
        self.eof_received = False

    def _transition(self, event: str) -> None:
        self.state = TRANSITIONS.get((self.state, event), self.state)

    @property
    def close_sent(self) -> bool:
        state = self.state
        return state is CLOSE_SENT or state is CLOSED

    @property
    def close_received(self) -> bool:
        state = self.state
        return state is CLOSE_RECEIVED or state is CLOSED

    def mark_close_sent(self) -> None:
        """Record a Close that left without this core (a handler's hand-made frame)."""
        self._transition(SEND_CLOSE)

    def mark_close_received(self) -> None:
        """Record a Close that came without this core (a handler read it raw)."""
        self._transition(RECEIVE_CLOSE)

    def receive_eof(self) -> None:
        """The peer ended its byte stream; the handshake state stays as it was."""
        self.eof_received = True

    def close_expected(self) -> bool:
        """True when the driver should close TCP: both Closes went, the peer failed
        the protocol (our failing Close then ends it), or the peer's stream ended."""
        return self.state is CLOSED or self.failed is not None or self.eof_received


class WebSocketCore(Protocol):
    """What a stream drives, whichever the dialect: bytes in, events out; commands in,
    bytes out (a command returns the bytes to write, so no output buffer sits
    between the core and the socket)."""

    state: State
    failed: Exception | None
    eof_received: bool

    @property
    def close_sent(self) -> bool: ...

    @property
    def close_received(self) -> bool: ...

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]: ...

    def receive_eof(self) -> None: ...

    def close_expected(self) -> bool: ...

    def mark_close_sent(self) -> None: ...

    def mark_close_received(self) -> None: ...

    def send_data(self, payload: bytes, binary: bool, fin: bool = True) -> tuple[bytes, bytes]: ...

    def send_ping(self, payload: bytes) -> bytes: ...

    def send_pong(self, payload: bytes) -> bytes: ...

    def send_close(self, code: int | None = ..., reason: str = "") -> bytes: ...

    def fail(self, code: int, reason: str = "") -> bytes: ...
