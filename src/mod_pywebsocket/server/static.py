"""Plain HTTP answers of the standalone server: static files from the document root.

Only GET and HEAD; a path that escapes the document root (``..``, symlinks
outside it) gets 404, like any missing file. A file is streamed from disk,
with ``os.sendfile`` on a plain socket and in CHUNK_SIZE reads over TLS, so a
large file costs no more memory than a small one. A HEAD answer has the
headers a GET would get and no body (RFC 9110 9.3.2).
"""

from __future__ import annotations

import io
import mimetypes
import os
import posixpath
import socket
import ssl
from urllib.parse import unquote

from ..handlers.dispatch import is_under
from ..protocol.handshake import HttpRequest, error_response, path_of
from ..protocol.status import status_line
from .session import RawConnection

CHUNK_SIZE = 256 * 1024


def resolve_path(document_root: str, target: str) -> str | None:
    """The file a request target names under ``document_root``, or None if outside it."""
    path = unquote(path_of(target).partition("#")[0])
    if not path.startswith("/") or "\x00" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    root = os.path.realpath(document_root)
    full = os.path.realpath(os.path.join(root, *parts)) if parts else root
    if not is_under(full, root):
        return None
    if os.path.isdir(full):
        full = os.path.join(full, "index.html")
    return full


def serve_file(
    document_root: str, request: HttpRequest, raw: RawConnection, sock: socket.socket | None = None
) -> int:
    """Answer a plain HTTP request through ``raw``; returns the status sent.

    ``sock`` is the connection's socket, for ``sendfile`` (None: chunked writes).
    """
    head_only = request.method == "HEAD"
    if request.method not in ("GET", "HEAD"):
        raw.write(
            error_response(405, f"{request.method} is not supported", [("Allow", "GET, HEAD")])
        )
        return 405
    path = resolve_path(
        document_root,
        posixpath.normpath(path_of(request.target))
        if request.target.startswith("/")
        else request.target,
    )
    if path is None or not os.path.isfile(path):
        raw.write(error_response(404, f"{request.target[:200]} was not found", head_only=head_only))
        return 404
    try:
        f = open(path, "rb", buffering=0)  # reads go straight into our buffer
    except OSError:
        raw.write(error_response(403, head_only=head_only))
        return 403
    with f:
        size = os.fstat(f.fileno()).st_size
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        raw.write(
            (
                f"{status_line(200)}\r\n"
                f"Content-Type: {ctype}\r\n"
                f"Content-Length: {size}\r\n"
                "Connection: close\r\n\r\n"
            ).encode("latin-1")
        )
        if not head_only:
            _send_file(f, size, raw, sock)
    return 200


def _send_file(f: io.FileIO, size: int, raw: RawConnection, sock: socket.socket | None) -> None:
    """Send ``size`` bytes of ``f`` (fewer if it shrank meanwhile), counting them in ``raw``."""
    if sock is not None and not isinstance(sock, ssl.SSLSocket):
        raw.bytes_out += sock.sendfile(f, 0, size)  # TLS sockets have no sendfile fast path
        return
    view = memoryview(bytearray(CHUNK_SIZE))
    left = size
    while left > 0:
        n = f.readinto(view[: min(left, CHUNK_SIZE)])
        if not n:
            return
        raw.bytes_out += n
        raw.transport.send(view[:n])
        left -= n
