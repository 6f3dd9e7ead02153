"""HTTP tokens (RFC 7230 3.2.6): the one pattern every header parser here matches.

A token is one or more of ``constants.HTTP_TOKEN_CHARS`` (RFC 2616 2.2: CHAR
minus CTLs and separators): header names, methods, extension names and
parameters, subprotocols. ``TOKEN_PATTERN`` is for patterns built around a
token (a request line); ``TOKEN`` matches from a position; ``is_token`` says
whether a whole string is one; ``quote_if_necessary`` writes a value as a
token or, when it is not one, as a quoted-string.
"""

from __future__ import annotations

import re
from typing import Final

from .constants import HTTP_TOKEN_CHARS

TOKEN_PATTERN: Final = "[" + re.escape(HTTP_TOKEN_CHARS) + "]+"
TOKEN: Final = re.compile(TOKEN_PATTERN)


def is_token(text: str) -> bool:
    """Whether all of ``text`` is one token (the empty string is not)."""
    return TOKEN.fullmatch(text) is not None


def is_ctl(ch: str) -> bool:
    """RFC 2616 2.2 CTL: characters 0-31 and DEL."""
    return ord(ch) <= 31 or ord(ch) == 127


def quote_if_necessary(s: str) -> str:
    """``s`` as is when it is a token, else as a quoted-string (``""`` when empty).

    Only ``"`` and CTLs are backslash-escaped inside the quotes, as in
    pywebsocket3 (a backslash is not); ``s`` is its parameter name too.
    """
    if is_token(s):
        return s
    return '"' + "".join("\\" + ch if ch == '"' or is_ctl(ch) else ch for ch in s) + '"'
