"""common: the names pywebsocket3 4.0.2 and mod_pywebsocket 0.7.9 had, with their values."""

from __future__ import annotations

import pytest

import pywebsocket3.common
from mod_pywebsocket import common
from mod_pywebsocket.protocol import extensions as core_extensions


def offers(header: str, **kwargs: bool) -> list[tuple[str, list[tuple[str, str | None]]]]:
    return [(e.name(), e.get_parameters()) for e in common.parse_extensions(header, **kwargs)]


def test_both_import_names_are_one_module() -> None:
    assert pywebsocket3.common is common


def test_extension_parameter_is_the_core_class() -> None:
    assert common.ExtensionParameter is core_extensions.ExtensionParameter
    assert all(
        isinstance(e, core_extensions.ExtensionParameter) for e in common.parse_extensions("a, b")
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOGLEVEL_FINE", 9),
        ("VERSION_HIXIE75", -1),
        ("VERSION_HYBI00", 0),
        ("VERSION_HYBI01", 1),
        ("VERSION_HYBI02", 2),
        ("VERSION_HYBI03", 2),
        ("VERSION_HYBI04", 4),
        ("VERSION_HYBI07", 7),
        ("VERSION_HYBI08", 8),
        ("VERSION_HYBI12", 8),
        ("VERSION_HYBI13", 13),
        ("VERSION_HYBI14", 13),
        ("VERSION_HYBI17", 13),
        ("VERSION_HYBI_LATEST", 13),
        ("DEFAULT_WEB_SOCKET_PORT", 80),
        ("DEFAULT_WEB_SOCKET_SECURE_PORT", 443),
        ("WEB_SOCKET_SCHEME", "ws"),
        ("WEB_SOCKET_SECURE_SCHEME", "wss"),
        ("WEBSOCKET_SCHEME", "ws"),
        ("WEBSOCKET_SECURE_SCHEME", "wss"),
        ("WEBSOCKET_UPGRADE_TYPE", "websocket"),
        ("UPGRADE_CONNECTION_TYPE", "Upgrade"),
        ("WEBSOCKET_UPGRADE_TYPE_HIXIE75", "WebSocket"),
        ("SEC_WEBSOCKET_ORIGIN_HEADER", "Sec-WebSocket-Origin"),
        ("SEC_WEBSOCKET_DRAFT_HEADER", "Sec-WebSocket-Draft"),
        ("SEC_WEBSOCKET_KEY1_HEADER", "Sec-WebSocket-Key1"),
        ("SEC_WEBSOCKET_KEY2_HEADER", "Sec-WebSocket-Key2"),
        ("SEC_WEBSOCKET_LOCATION_HEADER", "Sec-WebSocket-Location"),
        ("PERMESSAGE_DEFLATE_EXTENSION", "permessage-deflate"),
        ("DEFLATE_FRAME_EXTENSION", "deflate-frame"),
        ("X_WEBKIT_DEFLATE_FRAME_EXTENSION", "x-webkit-deflate-frame"),
        ("MUX_EXTENSION", "mux_DO_NOT_USE"),
    ],
)
def test_constant(name: str, value: object) -> None:
    assert getattr(common, name) == value
    assert getattr(pywebsocket3.common, name) == value


def test_is_control_opcode() -> None:
    assert [op for op in range(16) if common.is_control_opcode(op)] == list(range(8, 16))


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("permessage-deflate", [("permessage-deflate", [])]),
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            [
                (
                    "permessage-deflate",
                    [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                )
            ],
        ),
        ("a, b ;c = 1 , d", [("a", []), ("b", [("c", "1")]), ("d", [])]),
        ('a; b="12"', [("a", [("b", "12")])]),
        ("a;\r\n b=1", [("a", [("b", "1")])]),  # folding whitespace is whitespace
        ("a,,b", [("a", []), ("b", [])]),  # empty list elements are skipped
    ],
)
def test_parse_extensions(header: str, parsed: list[object]) -> None:
    assert offers(header) == parsed


@pytest.mark.parametrize(
    "header",
    [
        "",
        ",",
        " , ",
        "a;",
        "a; b=",
        "a b",
        "a; b=c d",
        "a; =1",
        '"a"',
        'a; b="unterminated',
        'a; b="not a token"',  # RFC 6455 9.1 (pywebsocket3 took it): a quoted value is a token
        "a\r\nb",
    ],
)
def test_parse_extensions_refuses(header: str) -> None:
    with pytest.raises(common.ExtensionParsingException):
        common.parse_extensions(header)


def test_parse_extensions_quoted_strings_of_0_7_9() -> None:
    assert offers('a; b="1"', allow_quoted_string=True) == [("a", [("b", "1")])]
    with pytest.raises(common.ExtensionParsingException):
        common.parse_extensions('a; b="1"', allow_quoted_string=False)
    assert offers("a; b=1", allow_quoted_string=False) == [("a", [("b", "1")])]


def test_format_extensions_quotes_values_that_are_not_tokens() -> None:
    first = common.ExtensionParameter("permessage-deflate")
    first.add_parameter("client_max_window_bits", None)
    first.add_parameter("server_max_window_bits", "10")
    second = common.ExtensionParameter("x-test")
    second.add_parameter("note", "a b")
    second.add_parameter("empty", "")
    assert common.format_extension(first) == (
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
    )
    assert common.format_extensions([first, second]) == (
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
        'x-test; note="a b"; empty=""'
    )


def test_format_then_parse_round_trips() -> None:
    header = "permessage-deflate; client_max_window_bits=15; server_no_context_takeover, x"
    assert common.format_extensions(common.parse_extensions(header)) == header
