"""Handing freed memory back to the system on glibc (``malloc_trim``).

Large buffers (a 1 MiB message, a 256 KiB read, a slow reader's backlog) come
from the C heap. Once glibc has freed one that it had mapped on its own, it
raises its mapping threshold past that size (its "dynamic mmap threshold"),
so later buffers of that size are carved out of the heap, and what they leave
behind when freed stays in the process: a soak of mixed traffic on the
asyncio engine grew from 50 to 75 MB in three minutes, and ``malloc_trim(0)``
then gave 25 MB back. :class:`Trimmer` calls it now and then, when the
resident size has grown since the last call, off the caller's thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import resource
from collections.abc import Callable

_logger = logging.getLogger("mod_pywebsocket.server")

# Trim once the resident size has grown this much since the last trim.
TRIM_GROWTH = 4 * 1024 * 1024
# How often the asyncio engine looks (seconds).
TRIM_INTERVAL = 10.0


def _malloc_trim() -> Callable[[int], int] | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def resident_bytes() -> int:
    """The process's resident set size (Linux: /proc/self/statm), 0 if unknown."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


class Trimmer:
    """``malloc_trim`` when the resident size grew by :data:`TRIM_GROWTH` since
    the last trim. ``due()`` is cheap (one read of /proc); ``trim()`` walks the
    heap and belongs in a worker thread (ctypes releases the GIL)."""

    def __init__(self) -> None:
        self._function = None if os.environ.get("MOD_PYWEBSOCKET_NO_TRIM") else _malloc_trim()
        self._level = resident_bytes()

    @property
    def available(self) -> bool:
        return self._function is not None

    def due(self) -> bool:
        return self._function is not None and resident_bytes() > self._level + TRIM_GROWTH

    def trim(self) -> None:
        assert self._function is not None
        before = resident_bytes()
        self._function(0)
        self._level = resident_bytes()
        _logger.debug("malloc_trim: resident %.1f -> %.1f MB", before / 1e6, self._level / 1e6)
