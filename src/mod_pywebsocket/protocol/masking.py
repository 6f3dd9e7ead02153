"""RFC 6455 5.3 masking (placeholder: pure Python; the C fast path lands separately)."""

from __future__ import annotations

HAS_SPEEDUPS = False


def apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` using one big-integer operation."""
    if len(mask) != 4:
        raise ValueError("mask must be 4 bytes")
    n = len(data)
    if n == 0:
        return b""
    key = (bytes(mask) * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


apply_mask = apply_mask_python
