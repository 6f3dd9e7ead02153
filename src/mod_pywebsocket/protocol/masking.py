"""RFC 6455 5.3 masking: the C fast path when built, else a pure-Python twin.

Both give the same bytes. ``MOD_PYWEBSOCKET_NO_SPEEDUPS=1`` forces the pure
path (the test suite runs both; mod_python's system Python may lack the C
module).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol


def xor_repeated(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """XOR ``data`` with ``key`` (any length) repeated end to end, in one
    big-integer operation: the pure-Python masking, and util's RepeatedXorMasker."""
    n = len(data)
    if n == 0:
        return b""
    stream = (bytes(key) * (n // len(key) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` (RFC 6455 5.3)."""
    if len(mask) != 4:
        raise ValueError("mask must be 4 bytes")
    return xor_repeated(data, mask)


class AssemblerType(Protocol):
    """A large frame's payload unmasked into the bytes that become the message (C only)."""

    def add(self, chunk: bytes | bytearray | memoryview, mask: bytes, phase: int) -> None: ...

    def result(self) -> bytes: ...


# parse_messages(data, pos, limit, events) -> pos: see _speedups.c.
ParseMessages = Callable[[bytes | bytearray | memoryview, int, int, list[Any]], int]


def _select() -> tuple[
    Callable[[bytes | bytearray | memoryview, bytes], bytes],
    Callable[[int], AssemblerType] | None,
    ParseMessages | None,
]:
    if os.environ.get("MOD_PYWEBSOCKET_NO_SPEEDUPS") == "1":
        return apply_mask_python, None, None
    try:
        from ._speedups import Assembler, parse_messages
        from ._speedups import apply_mask as apply_mask_c
    except ImportError:
        return apply_mask_python, None, None
    return apply_mask_c, Assembler, parse_messages


# Assembler and parse_messages are None on the pure-Python path: the parser then
# unmasks each chunk and joins them at the end, and parses every frame itself;
# the same events.
apply_mask, Assembler, parse_messages = _select()
HAS_SPEEDUPS = Assembler is not None
