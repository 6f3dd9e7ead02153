"""``handshake``: the exceptions handlers raise, and pywebsocket3's ``do_handshake``.

A compatibility face: ``web_socket_do_extra_handshake`` raises
``AbortedByUserException`` or ``HandshakeException`` (API.md section 2);
``do_handshake(request, dispatcher)`` runs the RFC 6455 handshake of
``handshake.hybi`` for harnesses that drive requests themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from ..protocol.errors import AbortedByUserException, HandshakeException, VersionException
from . import base, hybi

__all__ = [
    "AbortedByUserException",
    "HandshakeException",
    "VersionException",
    "base",
    "do_handshake",
    "hybi",
]

_logger = logging.getLogger(__name__)


def do_handshake(
    request: Any,
    dispatcher: Any,
    allowDraft75: bool = False,  # noqa: N803
    strict: bool = False,
) -> None:
    """Perform the opening handshake on ``request`` (a mod_python-like request).

    Raises HandshakeException (with its HTTP status), VersionException or
    AbortedByUserException. ``allowDraft75`` and ``strict`` are mod_pywebsocket
    0.7.9's switches for the hixie-75 draft, which no client speaks any more:
    they are accepted and change nothing.
    """
    _logger.debug("opening handshake for %r", request.uri)
    hybi.Handshaker(request, dispatcher).do_handshake()
