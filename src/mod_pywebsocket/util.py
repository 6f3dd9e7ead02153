"""``util``: the helpers handlers import from pywebsocket3's and mod_pywebsocket's util.

A compatibility face. Handlers use ``pack_byte`` and ``hexify`` to build and
log hand-made frames, and ``_Inflater`` / ``_Deflater`` (and the RFC 1979
pair over them) to compress or inflate payloads they send or read with
``ws_stream._receive_frame``; these keep the reference semantics exactly.
Masking goes through ``protocol.masking.apply_mask`` (the C path when built).
Parameters named ``bytes`` keep the reference's keyword names.
The server itself does not use this module: its permessage-deflate lives in
``protocol.deflate``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import socket as _socket
import struct
import traceback
import zlib
from typing import Any

from .protocol.deflate import SYNC_FLUSH_TAIL
from .protocol.masking import apply_mask, xor_repeated

# mod_pywebsocket 0.7.9 re-exported its hash constructors (Python 2.4 had no hashlib).
md5_hash = hashlib.md5
sha1_hash = hashlib.sha1

_BYTE = struct.Struct("!B")


def get_stack_trace() -> str:
    """The traceback of the exception being handled, as text (0.7.9's name for format_exc)."""
    return traceback.format_exc()


def prepend_message_to_exception(message: str, exc: BaseException) -> None:
    """Put ``message`` in front of ``exc``'s text, in place (its args become one string)."""
    exc.args = (message + str(exc),)


def _translate_interp(interp: str, cygwin_path: str | None) -> str:
    """Point a ``#!/path/prog args`` interpreter at ``cygwin_path/prog`` (Win32 Python).

    Without ``cygwin_path`` the line is returned as is. The reference failed
    with TypeError on an interpreter with no arguments; here the arguments are
    simply empty.
    """
    if not cygwin_path:
        return interp
    m = re.match(r"^[^ ]*/([^ ]+)( .*)?", interp)
    if m is None:
        return interp
    return os.path.join(cygwin_path, m.group(1)) + (m.group(2) or "")


def get_script_interp(script_path: str, cygwin_path: str | None = None) -> str | None:
    """The ``#!`` interpreter command line of a script, or None when it has none.

    CGI support uses this to run scripts whose interpreter Windows would not
    find; ``cygwin_path`` rewrites the program's directory.
    """
    with open(script_path, encoding="utf-8", errors="surrogateescape") as f:
        line = f.readline()
    m = re.match(r"^#!(.*)", line)
    if m is None:
        return None
    return _translate_interp(m.group(1), cygwin_path)


def wrap_popen3_for_win(cygwin_path: str | None) -> None:
    """0.7.9 patched ``os.popen3`` to honour ``#!`` lines on Windows.

    ``os.popen3`` does not exist in Python 3, so there is nothing to wrap:
    this raises NotImplementedError saying so. The standalone server's CGI
    support runs scripts through ``subprocess`` instead.
    """
    raise NotImplementedError(
        "wrap_popen3_for_win: os.popen3 does not exist in Python 3; use "
        "get_script_interp() with subprocess to run #! scripts on Windows"
    )


def hexify(s: bytes | bytearray | memoryview | str) -> str:
    """Bytes as two-digit lower-case hex numbers joined by spaces: ``b'\\x01\\xab'`` -> ``'01 ab'``.

    A ``str`` (a Python 2 handler's byte string) is taken character by character.
    """
    if isinstance(s, str):
        return " ".join(f"{ord(c):02x}" for c in s)
    return bytes(s).hex(" ")


def get_class_logger(o: object) -> logging.Logger:
    """The logger named after ``o``'s class: ``<module>.<class name>``."""
    cls = o.__class__
    return logging.getLogger(f"{cls.__module__}.{cls.__name__}")


def pack_byte(b: int) -> bytes:
    """One unsigned byte; struct.error outside 0-255, as the reference."""
    return _BYTE.pack(b)


class NoopMasker:
    """RepeatedXorMasker's interface, returning its input unchanged (unmasked streams)."""

    def __init__(self) -> None:
        pass

    def mask(self, s: bytes) -> bytes:
        return s


class RepeatedXorMasker:
    """XORs data with a key repeated end to end, resuming where the last call stopped.

    Frames are often masked in pieces (header, then payload chunks), so the
    position in the key carries over between calls. A 4-byte key (every
    WebSocket mask) takes the package's masking routine; other lengths one
    big-integer XOR. Text must be encoded first: ``str`` raises TypeError.
    """

    def __init__(self, masking_key: bytes) -> None:
        if isinstance(masking_key, str):
            raise TypeError("the masking key must be bytes, not str")
        self._masking_key = bytes(masking_key)
        if not self._masking_key:
            raise ValueError("the masking key must not be empty")
        self._masking_key_index = 0

    def mask(self, s: bytes | bytearray | memoryview) -> bytes:
        if isinstance(s, str):
            raise TypeError("masking works on bytes; encode str first")
        key = self._masking_key
        index = self._masking_key_index
        n = len(s)
        rotated = key[index:] + key[:index]
        result = apply_mask(s, rotated) if len(key) == 4 else xor_repeated(s, rotated)
        self._masking_key_index = (index + n) % len(key)
        return result


class _Deflater:
    """Raw DEFLATE (no zlib header) of a stream of byte strings, with debug logging.

    zlib refuses an 8-bit window, so 9 is used: its back-references stay
    within 250 bytes, which a peer with a 256-byte window still inflates.
    """

    def __init__(self, window_bits: int) -> None:
        self._logger = get_class_logger(self)
        self._compress = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -max(window_bits, 9)
        )

    def _log(self, data: bytes, result: bytes) -> None:
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("Compress input %r", data)
            self._logger.debug("Compress result %r", result)

    def compress(self, bytes: bytes) -> bytes:
        """Compress without flushing: the output may lag the input."""
        result = self._compress.compress(bytes)
        self._log(bytes, result)
        return result

    def compress_and_flush(self, bytes: bytes) -> bytes:
        """Compress and sync-flush: the output ends with the empty block 00 00 ff ff."""
        result = self._compress.compress(bytes) + self._compress.flush(zlib.Z_SYNC_FLUSH)
        self._log(bytes, result)
        return result

    def compress_and_finish(self, bytes: bytes) -> bytes:
        """Compress and end the stream with a BFINAL block; the deflater is then spent."""
        result = self._compress.compress(bytes) + self._compress.flush(zlib.Z_FINISH)
        self._log(bytes, result)
        return result


class _Inflater:
    """Raw INFLATE of appended input, returned in pieces of at most ``size`` bytes.

    Input is queued with ``append`` and inflated by ``decompress``. When a
    block with BFINAL ends a DEFLATE stream and more input follows, that input
    starts a new stream: a fresh decompressor takes it over, and inflation goes
    on in the same call until ``size`` bytes are out or the input is used up.
    ``window_bits`` defaults to 15, which inflates any window (mod_pywebsocket
    0.7.9 took no argument).
    """

    def __init__(self, window_bits: int = zlib.MAX_WBITS) -> None:
        self._logger = get_class_logger(self)
        self._window_bits = window_bits
        self._unconsumed = b""
        self.reset()

    def decompress(self, size: int) -> bytes:
        """At most ``size`` inflated bytes (-1: all that the input gives)."""
        if not (size == -1 or size > 0):
            raise ValueError("size must be -1 or positive")
        data = b""
        while True:
            # max_length 0 means no limit, which is what size -1 asks for.
            data += self._decompress.decompress(self._unconsumed, max(0, size - len(data)))
            self._unconsumed = self._decompress.unconsumed_tail
            if not self._decompress.unused_data:
                # Input used up, or size bytes are out and the rest waits in unconsumed_tail.
                break
            # The stream ended (BFINAL) and the bytes after it begin a new one.
            self._unconsumed = self._decompress.unused_data
            self.reset()
            if size >= 0 and len(data) == size:
                break
        if data:
            self._logger.debug("Decompressed %r", data)
        return data

    def append(self, data: bytes) -> None:
        self._logger.debug("Appended %r", data)
        self._unconsumed += data

    def reset(self) -> None:
        """Forget the stream state (the window); queued input is kept."""
        self._logger.debug("Reset")
        self._decompress = zlib.decompressobj(-self._window_bits)


class _RFC1979Deflater:
    """DEFLATE with the RFC 1979 2.1 flush: each message ends with a sync flush, minus its
    trailing 00 00 ff ff (the framing permessage-deflate and deflate-frame use).

    ``filter(data, end=True, bfinal=False)`` is pywebsocket3's: ``end`` strips
    the tail and, with ``no_context_takeover``, forgets the window afterwards;
    ``end=False`` flushes but keeps the tail (a fragment of a message);
    ``bfinal`` ends the DEFLATE stream and appends an empty stored-block header
    byte. mod_pywebsocket 0.7.9 named the second parameter ``flush``:
    ``flush=False`` (by keyword) compresses without flushing, as it did there.
    """

    def __init__(self, window_bits: int | None, no_context_takeover: bool) -> None:
        self._deflater: _Deflater | None = None
        self._window_bits = zlib.MAX_WBITS if window_bits is None else window_bits
        self._no_context_takeover = no_context_takeover

    def filter(
        self, bytes: bytes, end: bool = True, bfinal: bool = False, *, flush: bool = True
    ) -> bytes:
        deflater = self._deflater
        if deflater is None:
            deflater = self._deflater = _Deflater(self._window_bits)
        if bfinal:
            self._deflater = None
            return deflater.compress_and_finish(bytes) + pack_byte(0)
        if not flush:
            return deflater.compress(bytes)
        result = deflater.compress_and_flush(bytes)
        if end:
            result = result[:-4]
            if self._no_context_takeover:
                self._deflater = None
        return result


class _RFC1979Inflater:
    """Inflates what _RFC1979Deflater produced: puts back the stripped tail, then inflates."""

    def __init__(self, window_bits: int = zlib.MAX_WBITS) -> None:
        self._inflater = _Inflater(window_bits)

    def filter(self, bytes: bytes) -> bytes:
        self._inflater.append(bytes + SYNC_FLUSH_TAIL)
        return self._inflater.decompress(-1)


class DeflateSocket:
    """A socket whose sends are deflated (sync-flushed) and whose recvs are inflated."""

    # Bytes asked of the socket at a time for compressed input.
    _RECV_SIZE = 4096

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._logger = get_class_logger(self)
        self._deflater = _Deflater(zlib.MAX_WBITS)
        self._inflater = _Inflater(zlib.MAX_WBITS)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` inflated bytes, as soon as any are ready; b'' at end of stream."""
        if size <= 0:
            raise ValueError("Non-positive size passed")
        while True:
            data = self._inflater.decompress(size)
            if data:
                return data
            read = self._socket.recv(DeflateSocket._RECV_SIZE)
            if not read:
                return b""
            self._inflater.append(read)

    def sendall(self, bytes: bytes) -> None:
        self.send(bytes)

    def send(self, bytes: bytes) -> int:
        """Deflate and send all of ``bytes``; returns its (uncompressed) length."""
        self._socket.sendall(self._deflater.compress_and_flush(bytes))
        return len(bytes)


class DeflateConnection:
    """``request.connection`` with deflated writes and inflated reads (0.7.9's deflate-stream).

    Reads take the connection one byte at a time, as 0.7.9 did: a
    connection's ``read(n)`` waits for all ``n`` bytes, and how many
    compressed bytes make the next inflated one is not known in advance.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._logger = get_class_logger(self)
        self._deflater = _Deflater(zlib.MAX_WBITS)
        self._inflater = _Inflater(zlib.MAX_WBITS)

    def get_remote_addr(self) -> Any:
        return self._connection.remote_addr

    remote_addr = property(get_remote_addr)

    def put_bytes(self, bytes: bytes) -> None:
        self.write(bytes)

    def read(self, size: int = -1) -> bytes:
        """At most ``size`` inflated bytes once at least one is ready (-1: until EOF)."""
        if not (size == -1 or size > 0):
            raise ValueError("size must be -1 or positive")
        data = b""
        while True:
            data += self._inflater.decompress(-1 if size == -1 else size - len(data))
            if size >= 0 and data:
                return data
            read = self._connection.read(1)
            if not read:
                return data
            self._inflater.append(read)

    def write(self, bytes: bytes) -> None:
        self._connection.write(self._deflater.compress_and_flush(bytes))


class DeflateRequest:
    """A request whose ``connection`` is a DeflateConnection; every other attribute, read or
    written, is the wrapped request's."""

    def __init__(self, request: Any) -> None:
        self._request = request
        self.connection = DeflateConnection(request.connection)

    def __getattribute__(self, name: str) -> Any:
        if name in ("_request", "connection"):
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_request"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_request", "connection"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._request, name, value)


def drain_received_data(raw_socket: _socket.socket) -> bytes:
    """Every byte already received on ``raw_socket``, without waiting for more.

    The socket is made non-blocking for the reads and gets its timeout back
    afterwards; reading stops at end of stream or when nothing more is there.
    """
    original_timeout = raw_socket.gettimeout()
    raw_socket.settimeout(0.0)
    drained = []
    try:
        while True:
            try:
                data = raw_socket.recv(4096)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                raise
            if not data:
                break
            drained.append(data)
    finally:
        raw_socket.settimeout(original_timeout)
    return b"".join(drained)
