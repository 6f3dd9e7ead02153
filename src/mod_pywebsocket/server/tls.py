"""TLS for the standalone server, with ``ssl.SSLContext`` (``ssl.wrap_socket`` is gone).

The context is built once at start-up, so a missing or unreadable key or
certificate stops the server with a message naming the file; each client's
TLS handshake then runs in that client's own thread, bounded by the
handshake timeout, so a slow or broken client costs nobody else anything.
"""

from __future__ import annotations

import os
import ssl

from ..options import ServerOptions


class TlsConfigurationError(ValueError):
    """A TLS file is missing, unreadable or not what it should be."""


def _readable(path: str, what: str) -> str:
    if not path:
        raise TlsConfigurationError(f"--tls needs {what}")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise TlsConfigurationError(f"{what} {path!r} does not exist or cannot be read")
    return path


def build_server_context(options: ServerOptions) -> ssl.SSLContext:
    """The server's context: TLS 1.2 or newer, and client certificates if asked for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    certificate = _readable(options.certificate, "the certificate file (-c)")
    key = _readable(options.private_key, "the private key file (-k)")
    try:
        context.load_cert_chain(certificate, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigurationError(
            f"cannot load the certificate {certificate!r} with the key {key!r}: {exc}"
        ) from None
    if options.tls_client_auth:
        ca = _readable(options.tls_client_ca, "the client CA file (--tls-client-ca)")
        try:
            context.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigurationError(f"cannot load the client CA file {ca!r}: {exc}") from None
        context.verify_mode = (
            ssl.CERT_OPTIONAL if options.tls_client_cert_optional else ssl.CERT_REQUIRED
        )
    return context
