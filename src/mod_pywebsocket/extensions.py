"""``extensions``: the extension processors handlers see (pywebsocket3 names).

A compatibility face: the processors live in ``protocol/extensions.py`` and
``protocol/deflate.py``; this module gives them pywebsocket3's and
mod_pywebsocket 0.7.9's names. Only permessage-deflate (RFC 7692) is
implemented. The draft extensions of mod_pywebsocket 0.7.9
(deflate-frame, perframe-compress, permessage-compress, mux) keep their
class names so handlers that import or test for them still load, but no
offer ever gets one of them: browsers stopped offering those drafts, and a
server that receives such an offer declines it (RFC 6455 9.1 lets it).
"""

from __future__ import annotations

from .http_header_util import quote_if_necessary
from .protocol import constants as c
from .protocol.deflate import (
    PerMessageDeflate,
    PerMessageDeflateExtensionProcessor,
    window_bits_value,
)
from .protocol.extensions import ExtensionParameter, ExtensionProcessorInterface

__all__ = [
    "CompressionExtensionProcessorBase",
    "DeflateFrameExtensionProcessor",
    "DeflateMessageProcessor",
    "ExtensionProcessorInterface",
    "MuxExtensionProcessor",
    "PerFrameCompressionExtensionProcessor",
    "PerMessageCompressionExtensionProcessor",
    "PerMessageDeflateExtensionProcessor",
    "get_extension_processor",
    "quote_if_necessary",
]


def _parse_window_bits(bits: str | None) -> int:
    """pywebsocket3's check of a window-bits value: 8 to 15, no leading zero."""
    if bits is None:
        raise ValueError("Value is required")
    value = window_bits_value(bits)
    if value is None:
        raise ValueError(f"Invalid value: {bits!r}")
    return value


class _PerMessageDeflateFramer:
    """pywebsocket3's per-connection permessage-deflate state, for clients.

    pywebsocket3's example client builds one from the server's response
    (its own window bits and context takeover) and hands it to its stream
    with ``setup_stream_options``; here that gives the stream a codec.
    """

    def __init__(
        self, deflate_max_window_bits: int | None, deflate_no_context_takeover: bool
    ) -> None:
        self._codec = PerMessageDeflate(
            server_no_context_takeover=bool(deflate_no_context_takeover),
            server_max_window_bits=deflate_max_window_bits or 15,
            compress_outgoing=False,
        )

    def set_bfinal(self, value: bool) -> None:
        self._codec.bfinal = bool(value)

    def set_compress_outgoing_enabled(self, value: bool) -> None:
        self._codec.compress_outgoing = bool(value)

    def setup_stream_options(self, stream_options: object) -> None:
        stream_options.deflate_codec = self._codec  # type: ignore[attr-defined]


class _DraftExtensionProcessor(ExtensionProcessorInterface):
    """A processor of an abandoned draft: it declines every offer.

    Its setters are accepted and have no effect, since no connection ever
    uses the extension.
    """

    _NAME: str | None = None

    def name(self) -> str | None:
        return self._NAME

    def _get_extension_response_internal(self) -> ExtensionParameter | None:
        return None

    def set_bfinal(self, value: bool) -> None:
        """No effect: the extension is never agreed."""

    def enable_outgoing_compression(self) -> None:
        """No effect: the extension is never agreed."""

    def disable_outgoing_compression(self) -> None:
        """No effect: the extension is never agreed."""


class DeflateFrameExtensionProcessor(_DraftExtensionProcessor):
    """deflate-frame / x-webkit-deflate-frame (draft-tyoshino), declined."""

    _NAME = c.DEFLATE_FRAME_EXTENSION

    def set_response_window_bits(self, value: int) -> None:
        """No effect: the extension is never agreed."""

    def set_response_no_context_takeover(self, value: bool) -> None:
        """No effect: the extension is never agreed."""


class CompressionExtensionProcessorBase(_DraftExtensionProcessor):
    """The base of the perframe-/permessage-compress drafts, declined."""

    def set_compression_processor_hook(self, hook: object) -> None:
        """No effect: the extension is never agreed."""

    def get_compression_processor(self) -> None:
        return None


class PerFrameCompressionExtensionProcessor(CompressionExtensionProcessorBase):
    """perframe-compress (draft), declined."""

    _NAME = c.PERFRAME_COMPRESSION_EXTENSION


class PerMessageCompressionExtensionProcessor(CompressionExtensionProcessorBase):
    """permessage-compress (draft), declined."""

    _NAME = c.PERMESSAGE_COMPRESSION_EXTENSION


class DeflateMessageProcessor(_DraftExtensionProcessor):
    """The deflate method of permessage-compress (draft), declined."""

    _NAME = "deflate"

    def set_c2s_max_window_bits(self, value: int) -> None:
        """No effect: the extension is never agreed."""

    def set_c2s_no_context_takeover(self, value: bool) -> None:
        """No effect: the extension is never agreed."""


class MuxExtensionProcessor(_DraftExtensionProcessor):
    """mux (draft-ietf-hybi-websocket-multiplexing), declined."""

    _NAME = c.MUX_EXTENSION

    def set_quota(self, quota: int) -> None:
        self._quota = quota

    def quota(self) -> int | None:
        return getattr(self, "_quota", None)

    def set_extensions(self, extensions: list[ExtensionParameter]) -> None:
        self._extensions = extensions

    def extensions(self) -> list[ExtensionParameter] | None:
        return getattr(self, "_extensions", None)


# The processor class for each extension token the server knows (pywebsocket3 name).
_available_processors: dict[str, type[ExtensionProcessorInterface]] = {
    c.PERMESSAGE_DEFLATE_EXTENSION: PerMessageDeflateExtensionProcessor,
}


def get_extension_processor(
    extension_request: ExtensionParameter,
) -> ExtensionProcessorInterface | None:
    """A processor for one offer, or None for an extension the server does not know."""
    processor_class = _available_processors.get(extension_request.name())
    if processor_class is None:
        return None
    return processor_class(extension_request)
