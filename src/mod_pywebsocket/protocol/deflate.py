"""permessage-deflate (RFC 7692): negotiation, and per-message (de)compression.

``PerMessageDeflateExtensionProcessor`` is what handlers see in
``request.ws_extension_processors`` (pywebsocket3's method names);
``negotiate`` turns the processors left after the handler into the response
header and a ``PerMessageDeflate`` codec for the connection core. Inflation
is bounded: a message never inflates past the size it is allowed, so a
decompression bomb costs at most that much memory.
"""

from __future__ import annotations

import zlib

from . import constants as c
from .errors import BadOperationException, InvalidFrameException, MessageTooBigException
from .extensions import ExtensionParameter, ExtensionProcessorInterface, format_extensions

SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"
_KNOWN = {
    SERVER_NO_CONTEXT_TAKEOVER,
    CLIENT_NO_CONTEXT_TAKEOVER,
    SERVER_MAX_WINDOW_BITS,
    CLIENT_MAX_WINDOW_BITS,
}
# RFC 7692 7.2.1 (RFC 1979 2.1): the empty stored block a sync flush ends with, not sent.
SYNC_FLUSH_TAIL = b"\x00\x00\xff\xff"


def window_bits_value(value: str | None) -> int | None:
    """RFC 7692 7.1.2: 8 to 15, written as 1*DIGIT without leading zeros."""
    if value is None or not value.isdigit() or value.startswith("0"):
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


class PerMessageDeflate:
    """Compresses outgoing and inflates incoming messages of one connection."""

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        server_max_window_bits: int = 15,
        client_no_context_takeover: bool = False,
        compression_level: int = 6,
        compress_outgoing: bool = True,
    ) -> None:
        self.compress_outgoing = compress_outgoing
        self.bfinal = False  # pywebsocket3's set_bfinal: finish the stream after each message
        self._reset_compressor = server_no_context_takeover
        self._reset_decompressor = client_no_context_takeover
        self._level = compression_level
        # zlib refuses a raw window of 8 bits; 9 with no string matching (Huffman
        # only) never refers back at all, so a peer with a 256-byte window can inflate it.
        self._wbits = max(server_max_window_bits, 9)
        self._strategy = (
            zlib.Z_HUFFMAN_ONLY if server_max_window_bits == 8 else (zlib.Z_DEFAULT_STRATEGY)
        )
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None
        self._inflated = 0

    def compress(self, data: bytes, final: bool) -> bytes:
        """One outgoing message, or one fragment of it (``final`` on the last)."""
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(
                self._level, zlib.DEFLATED, -self._wbits, 8, self._strategy
            )
        if self.bfinal:
            # A final block, then an empty stored block with BFINAL clear (0x00)
            # so the message still ends the way RFC 7692 7.2.1 expects; the next
            # message starts a new stream.
            self._compressor = None
            return compressor.compress(data) + compressor.flush(zlib.Z_FINISH) + b"\x00"
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if final:
            if out.endswith(SYNC_FLUSH_TAIL):
                out = out[:-4]  # RFC 7692 7.2.1 (a sync flush always leaves a block before)
            if self._reset_compressor:
                self._compressor = None
        return out

    def decompress(self, data: bytes, final: bool, max_length: int) -> bytes:
        """Inflate a chunk of a compressed message; at most ``max_length`` bytes in all.

        ``max_length`` is what the message may still grow by; going past it
        raises MessageTooBigException before more than ``max_length + 1``
        bytes are produced.
        """
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = self._decompressor = zlib.decompressobj(-15)
        if final:
            data = data + SYNC_FLUSH_TAIL
        try:
            out = decompressor.decompress(data, max_length + 1)
            while decompressor.eof:
                # A final (BFINAL) block ended the stream; what follows starts a
                # new one (RFC 7692 7.2.3.4 allows it; pywebsocket3's set_bfinal sends it).
                rest = decompressor.unused_data
                decompressor = self._decompressor = zlib.decompressobj(-15)
                room = max_length + 1 - len(out)
                if not rest or room <= 0:  # (zlib reads a limit of 0 as none)
                    break
                out += decompressor.decompress(rest, room)
        except zlib.error as exc:
            raise InvalidFrameException(f"invalid compressed data: {exc}") from None
        if len(out) > max_length:
            raise MessageTooBigException("an inflated message exceeds the size limit")
        if final and self._reset_decompressor:
            self._decompressor = None
        return out


class PerMessageDeflateExtensionProcessor(ExtensionProcessorInterface):
    """One permessage-deflate offer, as a handler may inspect and adjust it.

    The processor stays live after the handshake, as pywebsocket3's does:
    ``enable_outgoing_compression``, ``disable_outgoing_compression`` and
    ``set_bfinal`` called from ``web_socket_transfer_data`` change how the
    following messages are sent.
    """

    # pywebsocket3's names for the parameters (its example client reads them).
    _SERVER_MAX_WINDOW_BITS_PARAM = SERVER_MAX_WINDOW_BITS
    _SERVER_NO_CONTEXT_TAKEOVER_PARAM = SERVER_NO_CONTEXT_TAKEOVER
    _CLIENT_MAX_WINDOW_BITS_PARAM = CLIENT_MAX_WINDOW_BITS
    _CLIENT_NO_CONTEXT_TAKEOVER_PARAM = CLIENT_NO_CONTEXT_TAKEOVER

    def __init__(self, request: ExtensionParameter, compression_level: int = 6) -> None:
        super().__init__(request)
        self._level = compression_level
        self._client_max_window_bits: int | None = None
        self._client_no_context_takeover = False
        self._compress_outgoing = True
        self._bfinal = False
        self._response: ExtensionParameter | None = None
        self._params: dict[str, str | None] = {}
        self._codec: PerMessageDeflate | None = None

    def name(self) -> str:
        # pywebsocket3 answers "deflate" here, not the extension's token.
        return "deflate"

    # Handler controls (API.md section 6).

    def set_client_max_window_bits(self, value: int) -> None:
        """Ask the client to use at most 2**value bytes of window (when it offered the bit)."""
        if not 8 <= value <= 15:
            raise ValueError(f"client_max_window_bits must be 8-15, not {value}")
        self._client_max_window_bits = value

    def set_client_no_context_takeover(self, value: bool) -> None:
        self._client_no_context_takeover = value

    def enable_outgoing_compression(self) -> None:
        self._compress_outgoing = True
        if self._codec is not None:
            self._codec.compress_outgoing = True

    def disable_outgoing_compression(self) -> None:
        self._compress_outgoing = False
        if self._codec is not None:
            self._codec.compress_outgoing = False

    def set_bfinal(self, value: bool) -> None:
        """End each compressed message with a final (BFINAL) block and a fresh
        compressor: a legal but unusual encoding suites test browsers with."""
        self._bfinal = bool(value)
        if self._codec is not None:
            self._codec.bfinal = self._bfinal

    def _get_extension_response_internal(self) -> ExtensionParameter | None:
        """The response to this offer, or None to decline it (RFC 7692 7.1)."""
        params: dict[str, str | None] = {}
        for name, value in self._request.get_parameters():
            if name not in _KNOWN or name in params:
                return None  # unknown or repeated parameter: decline
            params[name] = value
        for flag in (SERVER_NO_CONTEXT_TAKEOVER, CLIENT_NO_CONTEXT_TAKEOVER):
            if flag in params and params[flag] is not None:
                return None
        server_bits = params.get(SERVER_MAX_WINDOW_BITS)
        if SERVER_MAX_WINDOW_BITS in params and window_bits_value(server_bits) is None:
            return None
        offered_client_bits = params.get(CLIENT_MAX_WINDOW_BITS)
        if (
            CLIENT_MAX_WINDOW_BITS in params
            and offered_client_bits is not None
            and (window_bits_value(offered_client_bits) is None)
        ):
            return None
        # pywebsocket3's order, whatever the offer's: suites compare the header.
        response = ExtensionParameter(c.PERMESSAGE_DEFLATE_EXTENSION)
        if SERVER_MAX_WINDOW_BITS in params:
            response.add_parameter(SERVER_MAX_WINDOW_BITS, params[SERVER_MAX_WINDOW_BITS])
        if SERVER_NO_CONTEXT_TAKEOVER in params:
            response.add_parameter(SERVER_NO_CONTEXT_TAKEOVER, None)
        if self._client_max_window_bits is not None:
            if CLIENT_MAX_WINDOW_BITS not in params:
                return None  # RFC 7692 7.1.2.2: only when the client offered it
            limit = window_bits_value(offered_client_bits) if offered_client_bits else 15
            bits = min(self._client_max_window_bits, limit or 15)
            response.add_parameter(CLIENT_MAX_WINDOW_BITS, str(bits))
        if self._client_no_context_takeover or CLIENT_NO_CONTEXT_TAKEOVER in params:
            response.add_parameter(CLIENT_NO_CONTEXT_TAKEOVER, None)
        self._params = params
        self._response = response
        return response

    def create_codec(self) -> PerMessageDeflate:
        """The codec for the agreed response (after get_extension_response)."""
        if self._response is None:
            raise BadOperationException("no permessage-deflate response was agreed")
        if self._codec is None:
            params = self._params
            server_bits = window_bits_value(params.get(SERVER_MAX_WINDOW_BITS)) or 15
            self._codec = PerMessageDeflate(
                server_no_context_takeover=SERVER_NO_CONTEXT_TAKEOVER in params,
                server_max_window_bits=server_bits,
                client_no_context_takeover=self._response.has_parameter(CLIENT_NO_CONTEXT_TAKEOVER),
                compression_level=self._level,
                compress_outgoing=self._compress_outgoing,
            )
            self._codec.bfinal = self._bfinal
        return self._codec


def processors_for(
    offers: list[ExtensionParameter] | None, compression_level: int
) -> list[PerMessageDeflateExtensionProcessor]:
    """A processor for each permessage-deflate offer, in the client's order."""
    return [
        PerMessageDeflateExtensionProcessor(offer, compression_level)
        for offer in offers or ()
        if offer.name() == c.PERMESSAGE_DEFLATE_EXTENSION
    ]


def negotiate(
    processors: list[object], stream_options: object = None
) -> tuple[list[ExtensionParameter], str | None, PerMessageDeflate | None]:
    """The extensions agreed from what the handler left in ws_extension_processors.

    pywebsocket3's rule: each active processor may first deactivate the ones
    it cannot coexist with (the first one has the last word); the first
    processor that answers its offer is accepted and every later one is
    deactivated, so at most one extension is agreed (RFC 7692 5 allows one
    permessage-deflate). Returns the accepted responses, the header value
    (None when nothing was accepted) and the codec of an agreed
    permessage-deflate. ``stream_options`` is handed to the accepted
    processor's ``setup_stream_options`` (handler-written processors use it).
    """
    candidates = [p for p in processors if isinstance(p, ExtensionProcessorInterface)]
    for processor in reversed(candidates):
        if processor.is_active():
            processor.check_consistency_with_other_processors(list(candidates))
    candidates = [p for p in candidates if p.is_active()]
    for index, processor in enumerate(candidates):
        if not processor.is_active():
            continue
        response = processor.get_extension_response()
        if response is None:
            continue
        if stream_options is not None:
            processor.setup_stream_options(stream_options)
        for later in candidates[index + 1 :]:
            later.set_active(False)
        codec = (
            processor.create_codec()
            if isinstance(processor, PerMessageDeflateExtensionProcessor)
            else None
        )
        return [response], format_extensions([response]), codec
    return [], None, None
