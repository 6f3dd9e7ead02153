"""Build client frames byte by byte, for feeding the protocol core in tests."""

from __future__ import annotations

import os
import struct
from types import ModuleType

import pytest


def client_frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    masked: bool = True,
) -> bytes:
    """A client frame, masked with ``mask`` (random when None) unless ``masked`` is False."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        header = bytes((b0, mbit | n))
    elif n < 65536:
        header = bytes((b0, mbit | 126)) + struct.pack("!H", n)
    else:
        header = bytes((b0, mbit | 127)) + struct.pack("!Q", n)
    if not masked:
        return header + payload
    key = mask if mask is not None else os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + body


def close_body(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def speedups() -> ModuleType:
    """The C module (built whatever MOD_PYWEBSOCKET_NO_SPEEDUPS says); a skip where
    it is not built, a failure where MOD_PYWEBSOCKET_REQUIRE_SPEEDUPS=1 says it must be."""
    try:
        from mod_pywebsocket.protocol import _speedups
    except ImportError:
        if os.environ.get("MOD_PYWEBSOCKET_REQUIRE_SPEEDUPS") == "1":
            pytest.fail("the C speedups module was not built")
        pytest.skip("the C speedups module is not built here")
    return _speedups
