"""CGI/1.1 (RFC 3875) for the standalone server, without http.server's CGI handler.

``-x /cgi-bin,/htbin`` makes executable files in those directories under the
document root run as CGI scripts. The script path must resolve inside its CGI
directory (no ``..``, no symlink out). Before a script runs, the request must
be clean: no NUL or line break in the target or a header value (400), a
Content-Length of ASCII digits (400; over MAX_BODY, 413) that the body meets
exactly within ``--cgi-timeout`` (short: 400; late: 408), and no
Transfer-Encoding (411 for chunked: send a Content-Length). The ``Proxy``
header is never passed on (httpoxy). The script runs without a shell, with
the body on stdin and a time limit, and its CGI response becomes an HTTP/1.1
response.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from http import HTTPStatus
from urllib.parse import unquote

from ..protocol.handshake import HttpRequest, error_response, header_tokens
from .session import RawConnection

_logger = logging.getLogger("mod_pywebsocket.cgi")

SERVER_SOFTWARE = "mod_pywebsocket"
MAX_BODY = 16 * 1024 * 1024
READ_SIZE = 64 * 1024

# RFC 9110 5.5: NUL, CR and LF are never valid in a field value; NUL cannot
# even be passed in a script's environment.
_BAD_VALUE = re.compile("[\x00\r\n]")
_DIGITS = re.compile("[0-9]+")  # str.isdigit() also takes "²" and "١", which int() refuses
# Headers a client must not set as variables: the server sets the first two, and
# HTTP_PROXY would become the script's proxy setting (httpoxy, CVE-2016-5385).
_NOT_PASSED = {"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_AUTHORIZATION", "HTTP_PROXY"}


class _Refused(Exception):
    """A request answered with ``status`` before any script runs."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def cgi_directories(cgi_paths: str | None) -> list[str]:
    """``"/cgi-bin, /htbin"`` -> ``["/cgi-bin", "/htbin"]``."""
    if not cgi_paths:
        return []
    return ["/" + p.strip().strip("/") for p in cgi_paths.split(",") if p.strip().strip("/")]


def find_script(document_root: str, directories: list[str], target: str
                ) -> tuple[str, str, str] | None:
    """(script file, SCRIPT_NAME, PATH_INFO) when ``target`` names a CGI script, else None.

    The file may be missing or unsafe; :func:`run` answers those.
    """
    path = unquote(target.partition("?")[0])
    for directory in directories:
        if path.startswith(directory + "/"):
            rest = path[len(directory) + 1:]
            name, slash, path_info = rest.partition("/")
            script = os.path.join(document_root, directory.lstrip("/"), name)
            return script, f"{directory}/{name}", slash + path_info
    return None


def _inside(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def run(
    request: HttpRequest,
    raw: RawConnection,
    document_root: str,
    directory_names: list[str],
    timeout: float,
    server_port: int,
) -> int:
    """Serve one request with a CGI script; returns the HTTP status sent."""
    found = find_script(document_root, directory_names, request.target)
    assert found is not None
    script, script_name, path_info = found
    head_only = request.method == "HEAD"
    try:
        real = _check_script(document_root, script, script_name, path_info)
        _check_request(request)
        body = _read_body(raw, _content_length(request), timeout)
    except _Refused as refused:
        _logger.info("CGI %r: %d: %s", script_name, refused.status, refused)
        raw.write(error_response(refused.status, str(refused), head_only=head_only))
        return refused.status
    env = _environment(request, raw, script_name, path_info, len(body), server_port)
    raw.transport.set_timeout(timeout)  # for the write of the response
    try:
        completed = subprocess.run([real], input=body, env=env, cwd=os.path.dirname(real),
                                   capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        _logger.warning("CGI %s did not finish within %.0fs; killed", script_name, timeout)
        return _answer(raw, 504, f"{script_name} timed out")
    except OSError as exc:
        _logger.warning("CGI %s could not run: %s", script_name, exc)
        return _answer(raw, 500, f"{script_name} could not run")
    if completed.stderr:
        _logger.info("CGI %s stderr: %s", script_name,
                     completed.stderr[:2000].decode("utf-8", "replace"))
    return _respond(raw, completed.stdout, request.method, script_name)


def _check_script(document_root: str, script: str, script_name: str, path_info: str) -> str:
    """The script's real path, if it is an executable file inside its CGI directory."""
    if "\x00" in script_name or "\x00" in path_info:
        raise _Refused(400, "NUL in the request path")
    name = os.path.basename(script)
    directory = os.path.realpath(os.path.dirname(script))
    real = os.path.realpath(script)
    if name in ("", ".", "..") or ".." in path_info.split("/") or not _inside(
            real, os.path.realpath(document_root)) or not _inside(real, directory):
        raise _Refused(403, "not a CGI script")
    if not os.path.isfile(real):
        raise _Refused(404, f"{script_name} was not found")
    if not os.access(real, os.X_OK):
        raise _Refused(403, f"{script_name} is not executable")
    return real


def _check_request(request: HttpRequest) -> None:
    if "\x00" in request.target:
        raise _Refused(400, "NUL in the request target")
    for name, value in request.headers.items():
        if _BAD_VALUE.search(value):
            raise _Refused(400, f"NUL or line break in the {name} header")


def _content_length(request: HttpRequest) -> int:
    """The body's length (RFC 9112 6.3); a Transfer-Encoding is refused, not decoded."""
    if "Transfer-Encoding" in request.headers:
        codings = header_tokens(request.headers.get("Transfer-Encoding"))
        if codings and codings[-1] == "chunked":
            raise _Refused(411, "chunked request bodies are not supported; send Content-Length")
        raise _Refused(400, "the body's length is unknown: chunked is not the last coding")
    text = request.headers.get("Content-Length")
    if text is None:
        return 0
    if not _DIGITS.fullmatch(text):
        raise _Refused(400, "malformed Content-Length")
    if len(text) > len(str(MAX_BODY)) or int(text) > MAX_BODY:
        raise _Refused(413, f"request bodies are limited to {MAX_BODY} bytes")
    return int(text)


def _read_body(raw: RawConnection, length: int, timeout: float) -> bytes:
    """Exactly ``length`` bytes within ``timeout`` seconds in all.

    One deadline for the whole body: a client sending a byte now and then
    gets no more time than one that sends nothing.
    """
    transport = raw.transport
    deadline = time.monotonic() + timeout
    chunks = []
    while length > 0:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Refused(408, f"the request body did not arrive within {timeout:g}s")
        transport.set_timeout(left)
        try:
            data = transport.recv(min(length, READ_SIZE))
        except TimeoutError:
            raise _Refused(408, f"the request body did not arrive within {timeout:g}s") from None
        if not data:
            raise _Refused(400, f"the request body ended {length} bytes short of Content-Length")
        raw.bytes_in += len(data)
        chunks.append(data)
        length -= len(data)
    return b"".join(chunks)


def _environment(request: HttpRequest, raw: RawConnection, script_name: str, path_info: str,
                 length: int, server_port: int) -> dict[str, str]:
    host = (request.headers.get("Host") or "localhost").rsplit(":", 1)[0]
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        "SERVER_NAME": host,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": request.version,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": request.target.partition("?")[2],
        "REMOTE_ADDR": raw.remote_addr[0] if raw.remote_addr else "",
        "CONTENT_LENGTH": str(length) if length else "",
        "CONTENT_TYPE": request.headers.get("Content-Type") or "",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    for header, value in request.headers.items():
        key = "HTTP_" + header.upper().replace("-", "_")
        if key not in _NOT_PASSED:
            env[key] = value if key not in env else env[key] + ", " + value
    return env


def _respond(raw: RawConnection, output: bytes, method: str, script_name: str) -> int:
    """RFC 3875 6: the script's header lines, a blank line, then the body."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = output.partition(separator)
        if found:
            break
    else:
        _logger.warning("CGI %s wrote no header block", script_name)
        return _answer(raw, 502, f"{script_name} sent no CGI headers")
    status = 200
    headers: list[tuple[str, str]] = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            return _answer(raw, 502, f"{script_name} sent a malformed header line")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            code = value.split(" ", 1)[0]
            status = int(code) if code.isdigit() else 502
        elif name.lower() != "content-length":
            headers.append((name, value))
    if status == 200 and any(n.lower() == "location" for n, _ in headers):
        status = 302
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Status"
    lines = [f"HTTP/1.1 {status} {phrase}", *(f"{n}: {v}" for n, v in headers),
             f"Content-Length: {len(body)}", "Connection: close"]
    raw.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
              + (b"" if method == "HEAD" else body))
    return status


def _answer(raw: RawConnection, status: int, message: str) -> int:
    raw.write(error_response(status, message))
    return status
