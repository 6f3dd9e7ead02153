"""The one exception tree of the package, and each error's close code.

    Exception
    +-- ConnectionTerminatedException      the peer went away (no close frame is sent)
    |   +-- InvalidFrameException          1002 a frame breaks RFC 6455
    +-- UnsupportedFrameException          1003 a frame we cannot handle
    +-- InvalidUTF8Exception               1007 text that is not UTF-8
    +-- MessageTooBigException             1009 a message or frame over the limit
    +-- BadOperationException              1011 the handler misused the API
    +-- HandshakeException                 an HTTP status for the opening handshake
    |   +-- VersionException               400 + Sec-WebSocket-Version
    +-- AbortedByUserException             the handler asked to drop the connection

The shape follows pywebsocket3 (only InvalidFrameException derives from
ConnectionTerminatedException there), so handlers' ``except`` clauses catch
the same things. The public modules (``msgutil``, ``stream``, ``handshake``) re-export these
names; handlers written for pywebsocket3 catch them under those names.
"""

from __future__ import annotations

from typing import ClassVar

from . import constants


class ConnectionTerminatedException(Exception):
    """The connection ended: the peer closed TCP, or a protocol error ended it."""

    # The close code we send when this escapes; None means no Close frame.
    close_code: ClassVar[int | None] = None


class InvalidFrameException(ConnectionTerminatedException):
    """The peer sent a frame that violates RFC 6455."""

    close_code = constants.STATUS_PROTOCOL_ERROR


class UnsupportedFrameException(Exception):
    """The peer sent a frame or data type we do not support."""

    close_code: ClassVar[int | None] = constants.STATUS_UNSUPPORTED_DATA


class InvalidUTF8Exception(Exception):
    """A text message or close reason is not valid UTF-8 (RFC 6455 8.1)."""

    close_code: ClassVar[int | None] = constants.STATUS_INVALID_FRAME_PAYLOAD_DATA


class MessageTooBigException(Exception):
    """A message, frame or inflated payload exceeds the configured limit."""

    close_code: ClassVar[int | None] = constants.STATUS_MESSAGE_TOO_BIG


class BadOperationException(Exception):
    """The handler asked for something the connection cannot do now."""

    close_code: ClassVar[int | None] = constants.STATUS_INTERNAL_ENDPOINT_ERROR


class HandshakeException(Exception):
    """The opening handshake failed; ``status`` is the HTTP status to answer with."""

    def __init__(self, name: str, status: int | None = None) -> None:
        super().__init__(name)
        self.name = name
        self.status = status


class VersionException(HandshakeException):
    """The client asked for a protocol version we do not speak."""

    def __init__(self, name: str, supported_versions: str = "") -> None:
        super().__init__(name, constants.HTTP_STATUS_BAD_REQUEST)
        self.supported_versions = supported_versions


class AbortedByUserException(Exception):
    """Raised by a handler to drop the TCP connection without any response."""


def close_code_for(exc: BaseException) -> int | None:
    """The close code to send when ``exc`` escapes a handler (API.md section 2).

    Exceptions of this tree carry their own code (None: no Close frame).
    Anything else is a bug in the handler: pywebsocket3 drops the connection
    without a Close frame, and browser suites rely on the abnormal closure
    that follows, so this answers None for it too.
    """
    code = getattr(type(exc), "close_code", None)
    return code if isinstance(code, int) else None
