"""``deflate_stream_extension``: mod_pywebsocket 0.7.9's deflate-stream extension.

A compatibility face: deflate-stream compressed the whole byte stream, an
early draft no browser offers any more. The processor keeps its name for
handlers that import it and declines every offer.
"""

from __future__ import annotations

from .extensions import _DraftExtensionProcessor
from .protocol.extensions import ExtensionProcessorInterface

__all__ = ["DeflateStreamExtensionProcessor", "ExtensionProcessorInterface"]


class DeflateStreamExtensionProcessor(_DraftExtensionProcessor):
    """deflate-stream (draft), declined."""

    _NAME = "deflate-stream"
