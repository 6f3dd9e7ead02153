"""permessage-deflate: negotiation (RFC 7692 7.1) and the 7.2.3 examples byte for byte."""

from __future__ import annotations

import tracemalloc
import zlib

import pytest

from mod_pywebsocket.protocol import constants as c
from mod_pywebsocket.protocol.connection import Connection, Failure
from mod_pywebsocket.protocol.deflate import (
    PerMessageDeflate,
    PerMessageDeflateExtensionProcessor,
    negotiate,
    processors_for,
)
from mod_pywebsocket.protocol.errors import HandshakeException, MessageTooBigException
from mod_pywebsocket.protocol.extensions import format_extensions, parse_extensions

from .helpers import client_frame


def agree(header: str, **handler: object) -> tuple[str | None, PerMessageDeflate | None]:
    processors = processors_for(parse_extensions(header), 6)
    for processor in processors:
        if handler.get("client_bits"):
            processor.set_client_max_window_bits(int(str(handler["client_bits"])))
        if handler.get("no_client_context"):
            processor.set_client_no_context_takeover(True)
        if handler.get("no_outgoing"):
            processor.disable_outgoing_compression()
    _, response, codec = negotiate(list(processors))
    return response, codec


def test_header_parsing_and_formatting() -> None:
    offers = parse_extensions(
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10", '
        "x-webkit-deflate-frame,, foo ; a = b"
    )
    assert [o.name() for o in offers] == ["permessage-deflate", "x-webkit-deflate-frame", "foo"]
    assert offers[0].get_parameters() == [
        ("client_max_window_bits", None),
        ("server_max_window_bits", "10"),
    ]
    assert offers[0].has_parameter("client_max_window_bits")
    assert offers[2].get_parameter_value("a") == "b"
    assert format_extensions(offers[:1]) == (
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
    )


@pytest.mark.parametrize(
    "header",
    ["permessage-deflate;", "a b", 'x; p="a b"', "x; =1", "x; p=", ";x", 'x; p="unterminated'],
)
def test_malformed_headers_are_400(header: str) -> None:
    with pytest.raises(HandshakeException) as info:
        parse_extensions(header)
    assert info.value.status == 400


@pytest.mark.parametrize(
    "offer, response",
    [
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
        (
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=8",
        ),
        (
            "permessage-deflate; server_max_window_bits=15; client_max_window_bits=9",
            "permessage-deflate; server_max_window_bits=15",
        ),
        # An offer we cannot accept is declined; the next one is tried.
        ("permessage-deflate; server_max_window_bits=7, permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; unknown=1, permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
        ),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        ("permessage-deflate; server_no_context_takeover=1", None),
        ("permessage-deflate; client_max_window_bits=16", None),
        ("permessage-deflate; server_max_window_bits=010", None),
        ("x-webkit-deflate-frame", None),
    ],
)
def test_negotiation(offer: str, response: str | None) -> None:
    assert agree(offer)[0] == response


def test_handler_controls() -> None:
    assert agree("permessage-deflate; client_max_window_bits", client_bits=10)[0] == (
        "permessage-deflate; client_max_window_bits=10"
    )
    assert agree("permessage-deflate; client_max_window_bits=9", client_bits=12)[0] == (
        "permessage-deflate; client_max_window_bits=9"
    )
    # client_max_window_bits may only answer an offer that carries it.
    assert agree("permessage-deflate", client_bits=10)[0] is None
    assert agree("permessage-deflate", no_client_context=True)[0] == (
        "permessage-deflate; client_no_context_takeover"
    )
    _, codec = agree("permessage-deflate", no_outgoing=True)
    assert codec is not None and codec.compress_outgoing is False
    # A handler that empties ws_extension_processors refuses compression.
    assert negotiate([]) == ([], None, None)


def test_rfc7692_hello_example() -> None:
    codec = PerMessageDeflate()
    assert codec.compress(b"Hello", True) == bytes.fromhex("f248cdc9c90700")
    # 7.2.3.2: the second "Hello" with context takeover refers back to the first.
    assert codec.compress(b"Hello", True) == bytes.fromhex("f200110000")


def test_rfc7692_no_context_takeover_repeats_the_first_bytes() -> None:
    codec = PerMessageDeflate(server_no_context_takeover=True)
    assert codec.compress(b"Hello", True) == bytes.fromhex("f248cdc9c90700")
    assert codec.compress(b"Hello", True) == bytes.fromhex("f248cdc9c90700")


def test_rfc7692_decompression_examples() -> None:
    codec = PerMessageDeflate()
    assert codec.decompress(bytes.fromhex("f248cdc9c90700"), True, 100) == b"Hello"
    # 7.2.3.1: fragmented
    codec = PerMessageDeflate()
    assert (
        codec.decompress(bytes.fromhex("f248cd"), False, 100)
        + codec.decompress(bytes.fromhex("c9c90700"), True, 100)
        == b"Hello"
    )
    # 7.2.3.4: a block with no compression
    stored = bytes.fromhex("000500faff48656c6c6f00")
    assert PerMessageDeflate().decompress(stored, True, 100) == b"Hello"
    # 7.2.3.5: a block with BFINAL set
    assert PerMessageDeflate().decompress(bytes.fromhex("f348cdc9c9070000"), True, 100) == (
        b"Hello"
    )
    # 7.2.3.6: two deflate blocks in one message
    two_blocks = bytes.fromhex("f24805000000ffffcac9c90700")
    assert PerMessageDeflate().decompress(two_blocks, True, 100) == b"Hello"
    # An empty message compresses to one empty block.
    assert PerMessageDeflate().compress(b"", True) == b"\x00"
    assert PerMessageDeflate().decompress(b"\x00", True, 100) == b""


@pytest.mark.parametrize("bits", range(8, 16))
@pytest.mark.parametrize("takeover", [True, False])
def test_round_trips_at_every_window(bits: int, takeover: bool) -> None:
    codec = PerMessageDeflate(server_max_window_bits=bits, server_no_context_takeover=takeover)
    inflater = zlib.decompressobj(-bits)  # a peer with exactly that window
    for message in (b"abc" * 1000, bytes(range(256)) * 40, b"", b"abc" * 1000):
        data = codec.compress(message, True)
        out = inflater.decompress(data + b"\x00\x00\xff\xff")
        assert out == message
        if takeover:
            inflater = zlib.decompressobj(-bits)


def test_fragmented_compressed_send() -> None:
    codec = PerMessageDeflate()
    parts = [codec.compress(b"Hel", False), codec.compress(b"lo", True)]
    assert PerMessageDeflate().decompress(b"".join(parts), True, 100) == b"Hello"


def test_decompression_bomb_is_refused_with_bounded_memory() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(bytes(100 * 1024 * 1024)) + bomb.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(payload) < 200_000
    codec = PerMessageDeflate()
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooBigException):
            codec.decompress(payload, True, 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak


def test_the_core_inflates_and_enforces_the_message_limit() -> None:
    codec = PerMessageDeflate()
    conn = Connection(codec=codec, max_message_size=1000)
    assert conn.receive_data(
        client_frame(c.OPCODE_TEXT, bytes.fromhex("f248cdc9c90700"), rsv=4)
    ) == ["Hello"]
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    big = deflater.compress(b"a" * 5000) + deflater.flush(zlib.Z_SYNC_FLUSH)[:-4]
    [failure] = conn.receive_data(client_frame(c.OPCODE_BINARY, big, rsv=4))
    assert isinstance(failure, Failure) and failure.close_code == 1009


def test_rsv1_on_a_continuation_frame_is_a_protocol_error() -> None:
    conn = Connection(codec=PerMessageDeflate())
    data = client_frame(c.OPCODE_TEXT, b"\xf2\x48", fin=False, rsv=4) + client_frame(
        c.OPCODE_CONTINUATION, b"\xcd", rsv=4
    )
    [failure] = conn.receive_data(data)
    assert isinstance(failure, Failure) and failure.close_code == 1002


def test_processor_names() -> None:
    [processor] = processors_for(parse_extensions("permessage-deflate"), 6)
    assert isinstance(processor, PerMessageDeflateExtensionProcessor)
    # pywebsocket3's processor calls itself "deflate"; the offer keeps its token.
    assert processor.name() == "deflate" and processor.is_active()
    assert processor.request().name() == "permessage-deflate"


def test_bfinal_messages_end_the_stream_and_still_inflate() -> None:
    """pywebsocket3's set_bfinal: every message is a finished deflate stream plus
    an empty non-final stored block; a peer inflates each on its own."""
    [processor] = processors_for(parse_extensions("permessage-deflate"), 6)
    assert processor.get_extension_response() is not None
    codec = processor.create_codec()
    processor.set_bfinal(True)  # after the handshake, as handlers do it
    first, second = codec.compress(b"Hello", True), codec.compress(b"Hello", True)
    assert first == second and first.endswith(b"\x00")
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(first) == b"Hello" and inflater.eof
    # Our own inflater accepts such messages from a client, one after another.
    peer = PerMessageDeflate()
    assert peer.decompress(first, True, 100) == b"Hello"
    assert peer.decompress(second, True, 100) == b"Hello"


def test_outgoing_compression_toggles_after_the_handshake() -> None:
    [processor] = processors_for(parse_extensions("permessage-deflate"), 6)
    processor.get_extension_response()
    codec = processor.create_codec()
    assert codec.compress_outgoing
    processor.disable_outgoing_compression()
    assert not codec.compress_outgoing
    processor.enable_outgoing_compression()
    assert codec.compress_outgoing


def test_negotiation_accepts_one_extension_and_handler_processors() -> None:
    """pywebsocket3's rule: the first processor that answers wins, the rest are
    deactivated; a handler-written ExtensionProcessorInterface subclass counts."""
    from mod_pywebsocket.protocol.extensions import ExtensionParameter, ExtensionProcessorInterface

    class Custom(ExtensionProcessorInterface):
        def name(self) -> str:
            return "x-custom"

        def _get_extension_response_internal(self) -> ExtensionParameter:
            response = ExtensionParameter("x-custom")
            response.add_parameter("p", "1")
            return response

    offers = parse_extensions("x-custom, permessage-deflate")
    deflate = processors_for(offers, 6)
    accepted, header, codec = negotiate([None, Custom(offers[0]), *deflate])
    assert header == "x-custom; p=1" and codec is None
    assert [e.name() for e in accepted] == ["x-custom"] and not deflate[0].is_active()
    declined = processors_for(parse_extensions("permessage-deflate; foo"), 6)
    assert negotiate(list(declined)) == ([], None, None) and not declined[0].is_active()
