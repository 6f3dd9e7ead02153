"""CGI/1.1 (RFC 3875) for the standalone server, without http.server's CGI handler.

``-x /cgi-bin,/htbin`` makes executable files in those directories under the
document root run as CGI scripts. The script path must resolve inside its CGI
directory (no ``..``, no symlink out); it runs without a shell, with the
request body on stdin and a time limit, and its CGI response becomes an
HTTP/1.1 response.
"""

from __future__ import annotations

import logging
import os
import subprocess
from http import HTTPStatus
from urllib.parse import unquote

from ..protocol.handshake import HttpRequest, error_response
from .session import RawConnection

_logger = logging.getLogger("mod_pywebsocket.cgi")

SERVER_SOFTWARE = "mod_pywebsocket"
MAX_BODY = 16 * 1024 * 1024


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
    name = os.path.basename(script)
    directory = os.path.realpath(os.path.dirname(script))
    real = os.path.realpath(script)
    if name in ("", ".", "..") or ".." in path_info.split("/") or not _inside(
            real, os.path.realpath(document_root)) or not _inside(real, directory):
        return _answer(raw, 403, "not a CGI script")
    if not os.path.isfile(real):
        return _answer(raw, 404, f"{script_name} was not found")
    if not os.access(real, os.X_OK):
        return _answer(raw, 403, f"{script_name} is not executable")
    length_text = request.headers.get("Content-Length") or "0"
    if not length_text.isdigit() or int(length_text) > MAX_BODY:
        return _answer(raw, 400, "bad or too large Content-Length")
    body = raw.read_exact(int(length_text))
    env = _environment(request, raw, script_name, path_info, len(body), server_port)
    try:
        completed = subprocess.run([real], input=body, env=env, cwd=directory,
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
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_AUTHORIZATION"):
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
