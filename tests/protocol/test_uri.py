"""protocol/uri.py: splitting ws:// and wss:// URIs (RFC 6455 3)."""

from __future__ import annotations

import pytest

from mod_pywebsocket.protocol.uri import split_websocket_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("ws://example.com/chat", ("example.com", 80, "/chat")),
        ("wss://Example.COM", ("example.com", 443, "/")),
        ("ws://h:8880/a?b=c#d", ("h", 8880, "/a?b=c#d")),
        ("ws://[::1]:99/", ("::1", 99, "/")),
        ("WSS://h/x", ("h", 443, "/x")),
    ],
)
def test_websocket_uris(uri: str, expected: tuple[str, int, str]) -> None:
    assert split_websocket_uri(uri) == expected


@pytest.mark.parametrize("uri", ["/chat", "http://h/x", "*", ""])
def test_other_uris_are_not_split(uri: str) -> None:
    assert split_websocket_uri(uri) is None


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("ws:///x", "no host"),
        ("ws://h:abc/", "invalid port"),
        ("ws://h:99999/", "invalid port"),
        ("ws://[::1/", "invalid URI"),
    ],
)
def test_broken_websocket_uris_say_what_is_wrong(uri: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        split_websocket_uri(uri)
