"""Text from the peer made fit for a log line (every layer that logs a resource uses it)."""

from __future__ import annotations

import re

_UNPRINTABLE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')


def printable(text: str) -> str:
    """``text`` fit for a log line: control characters as ``\\xNN``, ``"`` and ``\\``
    escaped (as Apache's access log does), so a request target cannot forge log
    lines or drive the terminal that shows them."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return "\\" + char if char in '"\\' else f"\\x{ord(char):02x}"
