"""HTTP/1.1 status lines (RFC 9112 4): the one place a status code gets its reason phrase.

Every response this package writes by hand (handshake refusals, static
files, CGI heads) starts with ``status_line(code)``; an unregistered code
(a CGI script may send any 3-digit status) gets the caller's fallback phrase.
"""

from __future__ import annotations

from http import HTTPStatus


def reason_phrase(status: int, unknown: str = "Error") -> str:
    """The registered phrase of ``status`` (``404`` -> ``Not Found``), else ``unknown``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return unknown


def status_line(status: int, unknown: str = "Error") -> str:
    """``HTTP/1.1 404 Not Found``, without the line's CRLF."""
    return f"HTTP/1.1 {status} {reason_phrase(status, unknown)}"
