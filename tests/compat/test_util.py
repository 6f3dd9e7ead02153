"""util: the helpers handlers use keep pywebsocket3's behaviour, checked against zlib directly."""

from __future__ import annotations

import hashlib
import logging
import random
import socket
import struct
import zlib
from pathlib import Path

import pytest

import pywebsocket3.util
from mod_pywebsocket import util

# RFC 7692 7.2.3.1 / 7.2.3.2: "Hello" deflated, then again with the window shared.
HELLO = b"\xf2\x48\xcd\xc9\xc9\x07\x00"
HELLO_AGAIN = b"\xf2\x00\x11\x00\x00"


def raw_deflate(data: bytes, mode: int = zlib.Z_SYNC_FLUSH, wbits: int = 15) -> bytes:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits)
    return compressor.compress(data) + compressor.flush(mode)


def raw_deflate_messages(*messages: bytes) -> list[bytes]:
    """Each message sync-flushed by one compressor, so later ones may refer back."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return [compressor.compress(m) + compressor.flush(zlib.Z_SYNC_FLUSH) for m in messages]


def raw_inflate(data: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(data)


def test_both_import_names_are_one_module() -> None:
    assert pywebsocket3.util is util


@pytest.mark.parametrize(("value", "packed"), [(0, b"\x00"), (0x7F, b"\x7f"), (255, b"\xff")])
def test_pack_byte(value: int, packed: bytes) -> None:
    assert util.pack_byte(value) == packed


@pytest.mark.parametrize("value", [-1, 256])
def test_pack_byte_out_of_range(value: int) -> None:
    with pytest.raises(struct.error):
        util.pack_byte(value)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"\x01\xab", "01 ab"),
        (b"\x00\x0f\xf0\xff", "00 0f f0 ff"),
        (bytearray(b"Hi"), "48 69"),
        (memoryview(b"\x81\x05"), "81 05"),
        ("\x01a", "01 61"),  # a Python 2 handler's byte string
    ],
)
def test_hexify(data: bytes | bytearray | memoryview | str, text: str) -> None:
    assert util.hexify(data) == text


def test_hexify_every_byte() -> None:
    data = bytes(range(256))
    assert util.hexify(data) == " ".join(f"{b:02x}" for b in data)


def test_noop_masker() -> None:
    data = b"\x01\x02"
    assert util.NoopMasker().mask(data) is data


def naive_mask(data: bytes, key: bytes, start: int) -> bytes:
    return bytes(b ^ key[(start + i) % len(key)] for i, b in enumerate(data))


@pytest.mark.parametrize(
    "key", [b"\x01\x02\x03\x04", b"\xff\x00\xaa\x55", b"\x37", b"abc", b"0123456"]
)
def test_repeated_xor_masker_keeps_the_key_phase_across_calls(key: bytes) -> None:
    rnd = random.Random(len(key))
    data = bytes(rnd.randrange(256) for _ in range(5000))
    masker = util.RepeatedXorMasker(key)
    out, pos = [], 0
    while pos < len(data):
        n = rnd.choice([0, 1, 2, 3, 5, 8, 13, 100, 1000])
        out.append(masker.mask(data[pos : pos + n]))
        pos += n
    assert b"".join(out) == naive_mask(data, key, 0)
    # And one more call continues from where the data ended.
    assert masker.mask(b"\x00" * 7) == naive_mask(b"\x00" * 7, key, len(data))


def test_repeated_xor_masker_refuses_text() -> None:
    with pytest.raises(TypeError):
        util.RepeatedXorMasker(b"abcd").mask("text")  # type: ignore[arg-type]


def test_deflater_is_raw_deflate() -> None:
    data = b"Hello, Hello, Hello" * 10
    deflater = util._Deflater(15)
    flushed = deflater.compress_and_flush(data)
    assert flushed == raw_deflate(data)
    assert flushed.endswith(b"\x00\x00\xff\xff")
    assert raw_inflate(flushed) == data
    finished = util._Deflater(15).compress_and_finish(data)
    assert finished == raw_deflate(data, zlib.Z_FINISH)
    partial = util._Deflater(15)
    assert partial.compress(data) + partial.compress_and_finish(b"") == finished


def test_deflater_uses_a_9_bit_window_for_8() -> None:
    data = bytes(random.Random(8).randrange(4) for _ in range(3000))
    assert util._Deflater(8).compress_and_finish(data) == raw_deflate(data, zlib.Z_FINISH, 9)


def test_inflater_returns_at_most_size_bytes() -> None:
    data = bytes(random.Random(1).randrange(256) for _ in range(1000)) * 3
    inflater = util._Inflater(15)
    inflater.append(raw_deflate(data))
    pieces = []
    while True:
        piece = inflater.decompress(100)
        assert len(piece) <= 100
        if not piece:
            break
        pieces.append(piece)
    assert all(len(p) == 100 for p in pieces)
    assert b"".join(pieces) == data


def test_inflater_minus_one_takes_everything_and_input_may_come_byte_by_byte() -> None:
    data = b"permessage-deflate " * 50
    compressed = raw_deflate(data)
    inflater = util._Inflater()  # mod_pywebsocket 0.7.9 passed no window bits
    out = b""
    for i in range(len(compressed)):
        inflater.append(compressed[i : i + 1])
        out += inflater.decompress(-1)
    assert out == data


def test_inflater_starts_a_new_stream_after_bfinal() -> None:
    first, second = b"first stream", b"and the second one"
    inflater = util._Inflater(15)
    inflater.append(raw_deflate(first, zlib.Z_FINISH) + raw_deflate(second, zlib.Z_FINISH))
    assert inflater.decompress(-1) == first + second
    # With a size that the first stream fills exactly, the second waits for the next call.
    inflater = util._Inflater(15)
    inflater.append(raw_deflate(first, zlib.Z_FINISH) + raw_deflate(second, zlib.Z_FINISH))
    assert inflater.decompress(len(first)) == first
    assert inflater.decompress(-1) == second
    # A size larger than the first stream reads on into the second in the same call.
    inflater = util._Inflater(15)
    inflater.append(raw_deflate(first, zlib.Z_FINISH) + raw_deflate(second, zlib.Z_FINISH))
    assert inflater.decompress(len(first) + 3) == first + second[:3]


def test_inflater_reset_forgets_the_window() -> None:
    data = b"abcdefgh" * 4
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    m1 = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    m2 = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)  # refers back to m1
    inflater = util._Inflater(15)
    inflater.append(m1)
    assert inflater.decompress(-1) == data
    inflater.append(m2)
    assert inflater.decompress(-1) == data
    inflater.reset()
    inflater.append(m2)
    with pytest.raises(zlib.error):
        inflater.decompress(-1)


@pytest.mark.parametrize("size", [0, -2])
def test_inflater_size_must_be_minus_one_or_positive(size: int) -> None:
    with pytest.raises(ValueError):
        util._Inflater(15).decompress(size)


def test_rfc1979_deflater_matches_rfc7692_examples() -> None:
    shared = util._RFC1979Deflater(None, False)
    assert shared.filter(b"Hello") == HELLO
    assert shared.filter(b"Hello") == HELLO_AGAIN
    fresh = util._RFC1979Deflater(15, True)
    assert fresh.filter(b"Hello") == HELLO
    assert fresh.filter(b"Hello") == HELLO  # no context takeover: the window is dropped


def test_rfc1979_deflater_end_false_keeps_the_tail_and_the_window() -> None:
    deflater = util._RFC1979Deflater(15, True)
    fragment = deflater.filter(b"Hel", end=False)
    assert fragment == raw_deflate(b"Hel")
    assert fragment.endswith(b"\x00\x00\xff\xff")
    rest = deflater.filter(b"lo")
    assert raw_inflate(fragment + rest + b"\x00\x00\xff\xff") == b"Hello"


def test_rfc1979_deflater_bfinal_ends_the_stream_and_starts_afresh() -> None:
    deflater = util._RFC1979Deflater(15, False)
    assert deflater.filter(b"Hello", bfinal=True) == raw_deflate(b"Hello", zlib.Z_FINISH) + b"\x00"
    assert deflater.filter(b"Hello") == HELLO  # a new deflater: no shared window


def test_rfc1979_deflater_flush_false_is_0_7_9s_unflushed_compress() -> None:
    deflater = util._RFC1979Deflater(15, False)
    held = deflater.filter(b"Hello", flush=False)
    assert held == b""  # zlib holds short input back until a flush
    assert held + deflater.filter(b"") == HELLO


def test_rfc1979_inflater_reads_the_deflater_output() -> None:
    deflater, inflater = util._RFC1979Deflater(None, False), util._RFC1979Inflater()
    assert inflater.filter(HELLO) == b"Hello"
    assert inflater.filter(HELLO_AGAIN) == b"Hello"
    for message in (b"", b"x", bytes(range(256)) * 40, b"Hello"):
        assert inflater.filter(deflater.filter(message)) == message


class FakeSocket:
    def __init__(self, incoming: bytes = b"") -> None:
        self.incoming = incoming
        self.sent = b""

    def recv(self, size: int) -> bytes:
        data, self.incoming = self.incoming[:size], self.incoming[size:]
        return data

    def sendall(self, data: bytes) -> None:
        self.sent += data


def test_deflate_socket() -> None:
    data = b"over the deflated socket " * 400
    sock = FakeSocket(raw_deflate(data))
    wrapped = util.DeflateSocket(sock)
    received = b""
    while chunk := wrapped.recv(1000):
        assert len(chunk) <= 1000
        received += chunk
    assert received == data
    assert wrapped.send(b"Hello") == 5
    wrapped.sendall(b"Hello")
    assert sock.sent == b"".join(raw_deflate_messages(b"Hello", b"Hello"))
    with pytest.raises(ValueError):
        wrapped.recv(0)


class FakeConnection:
    remote_addr = ("127.0.0.1", 4242)

    def __init__(self, incoming: bytes = b"") -> None:
        self.incoming = incoming
        self.written: list[bytes] = []

    def read(self, size: int) -> bytes:
        data, self.incoming = self.incoming[:size], self.incoming[size:]
        return data

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_deflate_connection() -> None:
    connection = FakeConnection(raw_deflate(b"Hello") + raw_deflate(b" world"))
    wrapped = util.DeflateConnection(connection)
    assert wrapped.remote_addr == ("127.0.0.1", 4242)
    assert wrapped.get_remote_addr() == ("127.0.0.1", 4242)
    first = wrapped.read(3)
    assert 1 <= len(first) <= 3
    assert first + wrapped.read(-1) == b"Hello world"
    wrapped.write(b"Hello")
    wrapped.put_bytes(b"Hello")
    assert connection.written == raw_deflate_messages(b"Hello", b"Hello")


def test_deflate_request_wraps_the_connection_only() -> None:
    class Request:
        pass

    request = Request()
    request.connection = FakeConnection(raw_deflate(b"hi"))  # type: ignore[attr-defined]
    request.ws_resource = "/echo"  # type: ignore[attr-defined]
    wrapped = util.DeflateRequest(request)
    assert wrapped.ws_resource == "/echo"
    wrapped.ws_protocol = "chat"
    assert request.ws_protocol == "chat"  # type: ignore[attr-defined]
    assert isinstance(wrapped.connection, util.DeflateConnection)
    assert wrapped.connection.read(-1) == b"hi"


def test_drain_received_data() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(5.0)
        a.sendall(b"already here")
        assert util.drain_received_data(b) == b"already here"
        assert b.gettimeout() == 5.0
        assert util.drain_received_data(b) == b""
        a.sendall(b"last words")
        a.close()
        assert util.drain_received_data(b) == b"last words"


def test_prepend_message_to_exception() -> None:
    exc = ValueError("bad thing")
    util.prepend_message_to_exception("while parsing: ", exc)
    assert exc.args == ("while parsing: bad thing",)


def test_get_stack_trace() -> None:
    try:
        raise KeyError("the key")
    except KeyError:
        trace = util.get_stack_trace()
    assert "Traceback" in trace and "KeyError: 'the key'" in trace


def test_get_script_interp(tmp_path: Path) -> None:
    perl = tmp_path / "hello.pl"
    perl.write_text("#!/usr/bin/perl -wT\nprint 1;\n")
    python = tmp_path / "hello.py"
    python.write_text("#!/usr/bin/python\n")
    plain = tmp_path / "plain.txt"
    plain.write_text("no interpreter here\n")
    assert util.get_script_interp(str(perl)) == "/usr/bin/perl -wT"
    assert util.get_script_interp(str(perl), "/cygwin/bin") == "/cygwin/bin/perl -wT"
    assert util.get_script_interp(str(python), "/cygwin/bin") == "/cygwin/bin/python"
    assert util.get_script_interp(str(plain)) is None


def test_wrap_popen3_for_win_says_why_it_cannot() -> None:
    with pytest.raises(NotImplementedError, match="popen3"):
        util.wrap_popen3_for_win(None)


def test_get_class_logger() -> None:
    assert util.get_class_logger(util._Inflater(15)) is logging.getLogger(
        "mod_pywebsocket.util._Inflater"
    )


def test_hash_names_of_0_7_9() -> None:
    assert util.md5_hash(b"x").digest() == hashlib.md5(b"x").digest()
    assert util.sha1_hash(b"x").digest() == hashlib.sha1(b"x").digest()
