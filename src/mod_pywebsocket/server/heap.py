"""Handing freed memory back to the system on glibc (``malloc_trim``).

Large buffers (a 1 MiB message, a 256 KiB read, the backlog of a peer that
stopped reading) come from the C heap. Once glibc has freed one that it had
mapped on its own, it raises its mapping threshold past that size (its
"dynamic mmap threshold"), so later buffers of that size are carved out of
the heap, and the holes they leave when freed stay with the process: a soak
of mixed traffic on the asyncio engine grew from 50 to 75 MB in three
minutes, and ``malloc_trim(0)`` then gave 25 MB back. :class:`Trimmer` asks
glibc (``mallinfo2``) how much free memory its heap holds and, from
:data:`TRIM_AT` on, calls ``malloc_trim``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import resource
import time
from typing import Any

_logger = logging.getLogger("mod_pywebsocket.server")

# Trim once the heap holds this much free memory it could give back.
TRIM_AT = 4 * 1024 * 1024
# How often the asyncio engine asks (seconds).
TRIM_INTERVAL = 10.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",  # free bytes in the heap's chunks
            "keepcost",  # of which at the top, which free() already trims
        )
    ]


def _libc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallinfo2.restype = _MallInfo2  # glibc 2.33 and later
    except (OSError, AttributeError):
        return None
    return libc


def resident_bytes() -> int:
    """The process's resident set size (Linux: /proc/self/statm), 0 if unknown."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


class Trimmer:
    """``malloc_trim(0)`` while glibc's heap holds :data:`TRIM_AT` or more of
    free memory below its top. A trim leaves that memory counted as free, only
    no longer resident, and the chunks are reused and freed again between two
    looks, so a look cannot tell what is resident: while the heap holds that
    much, each look trims (on the soak's 30 MB of free chunks a trim took about
    a millisecond). ``due()`` takes the arenas' locks for a moment; ``trim()``
    walks the heap and belongs in a worker thread (ctypes releases the GIL)."""

    def __init__(self) -> None:
        self._libc = None if os.environ.get("MOD_PYWEBSOCKET_NO_TRIM") else _libc()

    @property
    def available(self) -> bool:
        return self._libc is not None

    def held(self) -> int:
        """Free bytes in the heap that only a trim gives back."""
        if self._libc is None:
            return 0
        info = self._libc.mallinfo2()
        return max(0, int(info.fordblks) - int(info.keepcost))

    def due(self) -> bool:
        return self.held() >= TRIM_AT

    def trim(self) -> None:
        assert self._libc is not None
        before, started = resident_bytes(), time.perf_counter()
        self._libc.malloc_trim(0)
        _logger.debug(
            "malloc_trim: resident %.1f -> %.1f MB in %.1f ms",
            before / 1e6,
            resident_bytes() / 1e6,
            (time.perf_counter() - started) * 1e3,
        )
