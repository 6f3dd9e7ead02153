"""``memorizingfile``: a file wrapper that remembers the lines read with ``readline``.

A compatibility face for harnesses that wrap a request's input file to see
the header lines an HTTP server read before the WebSocket code got the
request (pywebsocket3 and mod_pywebsocket 0.7.9 offered it). Our servers
parse the request head themselves and do not use it.
"""

from __future__ import annotations

import sys
from typing import Any

# The attributes MemorizingFile answers itself; everything else is the wrapped file's.
_OWN_ATTRIBUTES = frozenset(
    {
        "_file",
        "_memorized_lines",
        "_max_memorized_lines",
        "_buffered",
        "_buffered_line",
        "readline",
        "get_memorized_lines",
    }
)


class MemorizingFile:
    """Wraps a file; ``readline`` records each line it reads, up to ``max_memorized_lines``.

    Only ``readline`` memorizes: data taken with ``read`` and the like is not
    recorded. ``readline(size)`` shorter than the line returns its start and
    keeps the rest for the next call, while the whole line is memorized once.
    """

    def __init__(self, file_: Any, max_memorized_lines: int = sys.maxsize) -> None:
        self._file = file_
        self._memorized_lines: list[Any] = []
        self._max_memorized_lines = max_memorized_lines
        self._buffered = False
        self._buffered_line: Any = None

    def __getattribute__(self, name: str) -> Any:
        if name in _OWN_ATTRIBUTES:
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_file"), name)

    def readline(self, size: int = -1) -> Any:
        if self._buffered:
            line = self._buffered_line
            self._buffered = False
        else:
            line = self._file.readline()
            if line and len(self._memorized_lines) < self._max_memorized_lines:
                self._memorized_lines.append(line)
        if 0 <= size < len(line):
            self._buffered = True
            self._buffered_line = line[size:]
            return line[:size]
        return line

    def get_memorized_lines(self) -> list[Any]:
        """The lines memorized so far (the list itself, as the reference returned it)."""
        return self._memorized_lines
