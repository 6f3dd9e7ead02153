"""Server options: one typed, frozen object, with every default in one place.

The command line, the config file, Apache's PythonOptions and embedding
callers all build a :class:`ServerOptions`; nothing else reads globals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .protocol.connection import DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE
from .protocol.handshake import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_REQUEST_LINE,
)

DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_CLOSE_TIMEOUT = 5.0
# A send that makes no progress for this long fails its connection: nginx's
# send_timeout default. A peer that stops reading costs one thread for at most
# this long, never another connection's service.
DEFAULT_SEND_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 20000
DEFAULT_REQUEST_QUEUE_SIZE = 128
# zlib's default, as pywebsocket3: suites may compare compressed frames byte for byte.
# --compression-level 1 costs about a third of the CPU (Autobahn 12.3.15).
DEFAULT_COMPRESSION_LEVEL = 6
DEFAULT_SHUTDOWN_GRACE = 5.0
DEFAULT_CGI_TIMEOUT = 30.0

# The words that switch a boolean option on or off, in any case: a --config
# file's values and Apache's ``PythonOption mod_pywebsocket.<name> On``.
ON_WORDS = frozenset({"on", "true", "yes", "1"})
OFF_WORDS = frozenset({"off", "false", "no", "0"})


def switch_value(text: str) -> bool | None:
    """True for an on word, False for an off word (spaces around are ignored),
    None for any other text: the caller says what that means."""
    word = text.strip().lower()
    if word in ON_WORDS:
        return True
    if word in OFF_WORDS:
        return False
    return None


@dataclass(frozen=True)
class ServerOptions:
    """Everything a driver needs to serve handlers."""

    server_host: str = ""
    port: int = 80
    websock_handlers: str = "."
    scan_dir: str | None = None
    allow_handlers_outside_root_dir: bool = False
    websock_handlers_map_file: str | None = None
    handler_encoding: str | None = None
    document_root: str = "."
    validation_host: str | None = None
    validation_port: int | None = None
    request_queue_size: int = DEFAULT_REQUEST_QUEUE_SIZE
    # Limits and timeouts (seconds; None disables a timeout).
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_request_line: int = DEFAULT_MAX_REQUEST_LINE
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT
    idle_timeout: float | None = None
    ping_interval: float | None = None
    ping_timeout: float | None = None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    # Protocol features.
    allow_hybi00: bool = False
    http2: bool = False  # RFC 8441 over h2 (TLS ALPN) and h2c (prior knowledge)
    enable_deflate: bool = True
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    # TLS and HTTP features of the standalone server.
    use_tls: bool = False
    private_key: str = ""
    certificate: str = ""
    tls_client_auth: bool = False
    tls_client_cert_optional: bool = False
    tls_client_ca: str = ""
    use_basic_auth: bool = False
    basic_auth_credential: str = "test:test"
    cgi_paths: str | None = None
    cgi_timeout: float = DEFAULT_CGI_TIMEOUT
    # The driver: "threaded" (a thread per connection) or "asyncio" (one event loop;
    # async def handlers run on it, blocking ones in threads). See docs/engines.md.
    engine: str = "threaded"

    @classmethod
    def from_args(cls, argv: Sequence[str]) -> ServerOptions:
        """The options the command line's flags give (``["-p", "0", "-w", dir]``),
        with a ``--config`` file read as the command line reads it; paths are not
        made relative to ``-d`` (the command line does that by changing
        directory, which an embedding program does not want). Raises ValueError
        for a flag or a config file the server cannot run with."""
        # Imported here: the parser belongs to the command line, above this module.
        from .standalone import UsageError, parse_flags

        try:
            namespace, _ = parse_flags(list(argv), exit_on_error=False)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return cls.from_namespace(namespace)

    @classmethod
    def from_namespace(cls, namespace: Any) -> ServerOptions:
        """Build from an argparse namespace or any object with matching attributes.

        Embedders (e.g. web-platform-tests) build the namespace with our parser and
        may set extra attributes on it; unknown attributes are ignored, missing ones
        take their defaults. A ServerOptions is returned as it is.
        """
        if isinstance(namespace, ServerOptions):
            return namespace
        values = {}
        for field in dataclasses.fields(cls):
            if hasattr(namespace, field.name):
                values[field.name] = getattr(namespace, field.name)
        return cls(**values)
