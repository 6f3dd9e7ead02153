"""protocol/tokens.py: the one HTTP token pattern (RFC 7230 3.2.6)."""

from __future__ import annotations

import re

from mod_pywebsocket.protocol.extensions import ExtensionParameter, format_extensions
from mod_pywebsocket.protocol.tokens import TOKEN, TOKEN_PATTERN, is_token, quote_if_necessary

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


def test_quote_if_necessary() -> None:
    assert quote_if_necessary("15") == "15"
    assert quote_if_necessary("") == '""'
    assert quote_if_necessary("a b") == '"a b"'
    assert quote_if_necessary('say "hi"\x01\\') == '"say \\"hi\\"\\\x01\\"'


def test_extension_values_that_are_not_tokens_are_quoted() -> None:
    """One formatter for the server's 101 and for common.format_extensions."""
    from mod_pywebsocket import common

    offer = ExtensionParameter("x-test")
    offer.add_parameter("bits", "10")
    offer.add_parameter("note", "a b")
    offer.add_parameter("flag", None)
    assert format_extensions([offer, offer]) == (
        'x-test; bits=10; note="a b"; flag, x-test; bits=10; note="a b"; flag'
    )
    assert common.format_extensions is format_extensions
