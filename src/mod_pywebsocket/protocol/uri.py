"""ws:// and wss:// URIs (RFC 6455 3): host, port and resource, in one place.

An absolute request target (``GET ws://host/x``) and a URI handed to
``http_header_util.parse_uri`` are split the same way: the host lower-cased,
the scheme's default port when none is written, and the resource as the
path (``/`` when empty) with its query and fragment.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from . import constants as c


def split_websocket_uri(uri: str) -> tuple[str, int, str] | None:
    """``(host, port, resource)`` of a ws:// or wss:// URI; None for any other URI.

    Raises ValueError for a ws/wss URI with no host or a bad port, and for a
    URI ``urlsplit`` refuses (an unbalanced ``[``), whatever its scheme.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise ValueError(f"invalid URI {uri[:100]!r}") from None
    if parts.scheme not in (c.WEB_SOCKET_SCHEME, c.WEB_SOCKET_SECURE_SCHEME):
        return None
    if not parts.hostname:
        raise ValueError(f"no host in {uri[:100]!r}")
    try:
        port = parts.port
    except ValueError:  # not digits, or out of range
        raise ValueError(f"invalid port in {uri[:100]!r}") from None
    if port is None:
        port = (
            c.DEFAULT_WEB_SOCKET_SECURE_PORT
            if parts.scheme == c.WEB_SOCKET_SECURE_SCHEME
            else c.DEFAULT_WEB_SOCKET_PORT
        )
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    if parts.fragment:
        resource += "#" + parts.fragment
    return parts.hostname, port, resource
