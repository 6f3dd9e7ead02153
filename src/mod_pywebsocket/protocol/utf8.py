"""Incremental UTF-8 validation and decoding that fails as early as possible.

CPython's incremental UTF-8 decoder (C code, no per-byte Python) rejects an
impossible sequence as soon as it sees it, with one exception: it buffers a
lead byte 0xED followed by 0xA0-0xBF (a UTF-16 surrogate) until the next byte
arrives. RFC 6455 8.1 asks us to fail fast, so we check the few buffered bytes
ourselves after each chunk.
"""

from __future__ import annotations

import codecs

from .errors import InvalidUTF8Exception

_IncrementalDecoder = codecs.getincrementaldecoder("utf-8")


def _pending_is_valid_prefix(pending: bytes) -> bool:
    """True when ``pending`` (at most 3 bytes held by the decoder) can still become valid."""
    # Only the surrogate range escapes CPython's early checks; see the module docstring.
    return not (len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0)


class Utf8Decoder:
    """Decodes a text message chunk by chunk, raising InvalidUTF8Exception early."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = _IncrementalDecoder()

    def decode(self, data: bytes, final: bool = False) -> str:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise InvalidUTF8Exception(f"invalid UTF-8 in text message: {exc.reason}") from None
        if not final:
            pending = self._decoder.getstate()[0]
            if pending and not _pending_is_valid_prefix(pending):
                raise InvalidUTF8Exception("invalid UTF-8 in text message: surrogate code point")
        return text


def decode_utf8(data: bytes) -> str:
    """Decode a complete UTF-8 payload, raising InvalidUTF8Exception."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidUTF8Exception(f"invalid UTF-8: {exc.reason}") from None
