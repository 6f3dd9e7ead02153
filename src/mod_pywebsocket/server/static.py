"""Plain HTTP answers of the standalone server: static files from the document root.

Only GET and HEAD; a path that escapes the document root (``..``, symlinks
outside it) gets 404, like any missing file.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
from urllib.parse import unquote

from ..protocol.handshake import HttpRequest, error_response


def resolve_path(document_root: str, target: str) -> str | None:
    """The file a request target names under ``document_root``, or None if outside it."""
    path = unquote(target.partition("?")[0].partition("#")[0])
    if not path.startswith("/") or "\x00" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    root = os.path.realpath(document_root)
    full = os.path.realpath(os.path.join(root, *parts)) if parts else root
    if full != root and not full.startswith(root + os.sep):
        return None
    if os.path.isdir(full):
        full = os.path.join(full, "index.html")
    return full


def serve_file(document_root: str, request: HttpRequest) -> tuple[int, list[bytes]]:
    """(status, chunks of the response) for a plain HTTP request."""
    if request.method not in ("GET", "HEAD"):
        return 405, [error_response(405, f"{request.method} is not supported",
                                    [("Allow", "GET, HEAD")])]
    path = resolve_path(document_root, posixpath.normpath(request.target.partition("?")[0])
                        if request.target.startswith("/") else request.target)
    if path is None or not os.path.isfile(path):
        return 404, [error_response(404, f"{request.target[:200]} was not found")]
    try:
        with open(path, "rb") as f:
            body = f.read()
    except OSError:
        return 403, [error_response(403)]
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
        ctype += "; charset=utf-8"
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    return 200, [head] if request.method == "HEAD" else [head, body]
