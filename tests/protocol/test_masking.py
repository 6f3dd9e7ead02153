"""Masking: the C module and the pure-Python fallback give the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mod_pywebsocket.protocol import masking

from .helpers import speedups

Mask = Callable[[bytes | bytearray | memoryview, bytes], bytes]


def _c_implementation() -> Mask:
    apply_mask: Mask = speedups().apply_mask
    return apply_mask


@pytest.fixture(params=["c", "python"])
def apply_mask(request: pytest.FixtureRequest) -> Mask:
    return _c_implementation() if request.param == "c" else masking.apply_mask_python


def reference(data: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("size", [0, *range(1, 41), 1 << 20])
def test_against_the_reference(apply_mask: Mask, size: int) -> None:
    data = os.urandom(size)
    assert apply_mask(data, b"\x01\x80\xfe\x7f") == reference(data, b"\x01\x80\xfe\x7f")


def test_buffers_and_unaligned_slices(apply_mask: Mask) -> None:
    buf = bytearray(os.urandom(2000))
    view = memoryview(buf)[3:1003]
    assert apply_mask(view, b"abcd") == reference(bytes(view), b"abcd")
    assert apply_mask(buf, b"abcd") == reference(bytes(buf), b"abcd")
    assert apply_mask(apply_mask(bytes(buf), b"wxyz"), b"wxyz") == bytes(buf)


@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde"])
def test_mask_must_be_four_bytes(apply_mask: Mask, mask: bytes) -> None:
    with pytest.raises(ValueError):
        apply_mask(b"data", mask)


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_property_both_agree(data: bytes, mask: bytes) -> None:
    assert (
        masking.apply_mask(data, mask)
        == masking.apply_mask_python(data, mask)
        == (reference(data, mask))
    )


def test_environment_forces_the_fallback() -> None:
    code = (
        "from mod_pywebsocket.protocol import masking as m; "
        "print(m.HAS_SPEEDUPS, m.apply_mask is m.apply_mask_python)"
    )
    env = {**os.environ, "MOD_PYWEBSOCKET_NO_SPEEDUPS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "True"]


@pytest.mark.parametrize("key", [b"\x37", b"abc", b"\x01\x02\x03\x04", b"0123456"])
def test_xor_repeated_takes_any_key_length(key: bytes) -> None:
    """The pure-Python masking and util's RepeatedXorMasker share this one XOR."""
    data = os.urandom(1000)

    def expected(d: bytes) -> bytes:
        return bytes(b ^ key[i % len(key)] for i, b in enumerate(d))

    assert masking.xor_repeated(data, key) == expected(data)
    assert masking.xor_repeated(memoryview(data)[1:], key) == expected(data[1:])
    assert masking.xor_repeated(b"", key) == b""


def test_assembler_unmasks_chunks_into_one_message() -> None:
    Assembler = speedups().Assembler
    data = os.urandom(90_001)
    mask = b"\x01\x82\x33\xf4"
    masked = reference(data, mask)
    assembler = Assembler(len(data))
    pos = 0
    for size in (1, 2, 3, 5, 8191, 65536, 10_000):
        chunk = masked[pos : pos + size]
        assembler.add(memoryview(chunk), mask, pos & 3)
        pos += len(chunk)
    with pytest.raises(ValueError, match="83738 of 90001 bytes added"):
        assembler.result()  # not full yet
    with pytest.raises(ValueError, match="more bytes"):
        assembler.add(masked[pos:] + b"x", mask, pos & 3)
    assembler.add(masked[pos:], mask, pos & 3)
    assert assembler.result() == data
    with pytest.raises(ValueError, match="taken"):
        assembler.result()
    with pytest.raises(ValueError, match="4 bytes"):
        Assembler(4).add(b"abcd", b"abc", 0)
