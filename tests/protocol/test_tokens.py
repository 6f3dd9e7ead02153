"""protocol/tokens.py: the one HTTP token pattern (RFC 7230 3.2.6)."""

from __future__ import annotations

import re

from mod_pywebsocket.protocol.tokens import TOKEN, TOKEN_PATTERN, is_token

# RFC 2616 2.2: separators; with the CTLs (0-31, 127) they are what a token cannot hold.
SEPARATORS = '()<>@,;:\\"/[]?={} \t'


def test_every_ascii_character_is_classified_as_the_rfc_says() -> None:
    for code in range(256):
        ch = chr(code)
        expected = 32 < code < 127 and ch not in SEPARATORS
        assert is_token(ch) is expected, repr(ch)


def test_whole_strings_and_positions() -> None:
    assert is_token("permessage-deflate")
    assert not is_token("")
    assert not is_token("a b")
    assert not is_token("abc\n")  # fullmatch: no '$' before a trailing newline
    m = TOKEN.match("x; client_max_window_bits=15", 3)
    assert m is not None and m.group() == "client_max_window_bits"
    assert re.fullmatch(f"({TOKEN_PATTERN}) (\\S+)", "GET /echo")
