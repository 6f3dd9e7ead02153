"""``handshake``: the exceptions handlers raise from web_socket_do_extra_handshake."""

from __future__ import annotations

from ..protocol.errors import AbortedByUserException, HandshakeException, VersionException
from . import hybi

__all__ = ["AbortedByUserException", "HandshakeException", "VersionException", "hybi"]
