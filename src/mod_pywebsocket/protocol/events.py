"""The events a protocol core returns from ``receive_data``: frozen values.

Whole messages are plain ``str`` (text) and ``bytes`` (binary), the common
case, with no wrapper; the rest are the frozen classes here. Every core (RFC
6455's and HyBi 00's) returns these, so a stream tells them apart by type.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import constants as c


@dataclass(frozen=True, slots=True, repr=False)
class Ping:
    payload: bytes

    def __repr__(self) -> str:
        return f"Ping({self.payload!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Pong:
    payload: bytes

    def __repr__(self) -> str:
        return f"Pong({self.payload!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Close:
    """The peer's Close frame; ``code`` is None for an empty body (RFC 6455 7.1.5: 1005)."""

    code: int | None
    reason: str

    def __repr__(self) -> str:
        return f"Close({self.code!r}, {self.reason!r})"


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Failure:
    """The peer broke the protocol; ``exc.close_code`` is the code to fail with."""

    exc: Exception

    @property
    def close_code(self) -> int:
        code = getattr(self.exc, "close_code", None)
        return code if isinstance(code, int) else c.STATUS_PROTOCOL_ERROR

    @property
    def reason(self) -> str:
        return str(self.exc)[:100]

    def __repr__(self) -> str:
        return f"Failure({self.exc!r})"


Event = str | bytes | Ping | Pong | Close | Failure
