"""server/heap.py: the C heap's free memory handed back (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import pytest

from mod_pywebsocket.server import heap

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)


@glibc
def test_trim_gives_back_what_large_freed_buffers_left_in_the_heap() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    # Free one mapped 8 MiB buffer: glibc then serves smaller buffers from the
    # heap, as it does in a server once its first large message has gone.
    libc.free(libc.malloc(8 << 20))
    large, pins = [], []
    for _ in range(64):
        large.append(libc.malloc(1 << 20))
        # A neighbour after each, too large for any free chunk below: the freed
        # blocks cannot merge into the heap's top, which could then shrink.
        pins.append(libc.malloc(100 << 10))
    for block in large:
        ctypes.memset(block, 1, 1 << 20)  # touched: resident
    trimmer = heap.Trimmer()
    assert trimmer.available
    for block in large:
        libc.free(block)
    held = heap.resident_bytes()  # freed, but still the process's
    assert trimmer.held() >= 64 << 20 and trimmer.due()
    trimmer.trim()
    try:
        assert heap.resident_bytes() < held - (32 << 20)
    finally:
        for block in pins:
            libc.free(block)


def test_trimmer_is_due_while_the_heap_holds_enough_free_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trimmer = heap.Trimmer()
    held = [heap.TRIM_AT - 1]
    monkeypatch.setattr(trimmer, "held", lambda: held[0])
    assert not trimmer.due()
    held[0] = heap.TRIM_AT
    assert trimmer.due()


def test_no_trim_environment_variable_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOD_PYWEBSOCKET_NO_TRIM", "1")
    trimmer = heap.Trimmer()
    assert not trimmer.available and not trimmer.due()
