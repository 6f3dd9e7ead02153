"""CGI/1.1 (RFC 3875) for the standalone server, without http.server's CGI handler.

``-x /cgi-bin,/htbin`` makes executable files in those directories under the
document root run as CGI scripts. The script path must resolve inside its CGI
directory (no ``..``, no symlink out). Before a script runs, the request must
be clean: no NUL or line break in the target or a header value (400), a
Content-Length of ASCII digits (400; over MAX_BODY, 413) that the body meets
exactly within ``--cgi-timeout`` (short: 400; late: 408), and no
Transfer-Encoding (411 for chunked: send a Content-Length). The ``Proxy``
header is never passed on (httpoxy). The script runs without a shell, in a
process group of its own, with the body on stdin; its output streams to the
client as it comes, and if it has not finished within ``--cgi-timeout`` its
whole process group is killed (504 when nothing was sent yet).
"""

from __future__ import annotations

import logging
import os
import re
import selectors
import signal
import subprocess
import time
from urllib.parse import unquote

from ..handlers.dispatch import is_under
from ..protocol.handshake import HttpRequest, error_response, header_tokens, path_of
from ..protocol.status import status_line
from .session import RawConnection

_logger = logging.getLogger("mod_pywebsocket.cgi")

SERVER_SOFTWARE = "mod_pywebsocket"
MAX_BODY = 16 * 1024 * 1024
MAX_SCRIPT_HEAD = 64 * 1024  # the script's CGI header block
READ_SIZE = 64 * 1024
_PIPE_BUF = 4096  # a write of this much to a writable pipe does not block (POSIX)

# RFC 9110 5.5: NUL, CR and LF are never valid in a field value; NUL cannot
# even be passed in a script's environment.
_BAD_VALUE = re.compile("[\x00\r\n]")
_DIGITS = re.compile("[0-9]+")  # str.isdigit() also takes "²" and "١", which int() refuses
_STATUS = re.compile("[1-5][0-9][0-9]")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
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


def find_script(
    document_root: str, directories: list[str], target: str
) -> tuple[str, str, str] | None:
    """(script file, SCRIPT_NAME, PATH_INFO) when ``target`` names a CGI script, else None.

    The file may be missing or unsafe; :func:`run` answers those.
    """
    path = unquote(path_of(target))
    for directory in directories:
        if path.startswith(directory + "/"):
            rest = path[len(directory) + 1 :]
            name, slash, path_info = rest.partition("/")
            script = os.path.join(document_root, directory.lstrip("/"), name)
            return script, f"{directory}/{name}", slash + path_info
    return None


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
    raw.transport.set_timeout(timeout)  # for each write of the response
    return _run_script(real, env, body, _Output(raw, head_only, script_name), timeout)


def _check_script(document_root: str, script: str, script_name: str, path_info: str) -> str:
    """The script's real path, if it is an executable file inside its CGI directory."""
    # The decoded path becomes SCRIPT_NAME and PATH_INFO: a NUL, CR or LF there
    # could end or split an environment value the script reads.
    if _BAD_VALUE.search(script_name) or _BAD_VALUE.search(path_info):
        raise _Refused(400, "NUL or line break in the request path")
    name = os.path.basename(script)
    directory = os.path.realpath(os.path.dirname(script))
    real = os.path.realpath(script)
    # Below its CGI directory (not the directory itself) and the document root.
    inside = (
        real != directory
        and is_under(real, directory)
        and is_under(real, os.path.realpath(document_root))
    )
    if name in ("", ".", "..") or ".." in path_info.split("/") or not inside:
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


def _environment(
    request: HttpRequest,
    raw: RawConnection,
    script_name: str,
    path_info: str,
    length: int,
    server_port: int,
) -> dict[str, str]:
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


class _Output:
    """The script's stdout: its CGI header block becomes the HTTP head, the rest streams."""

    def __init__(self, raw: RawConnection, head_only: bool, script_name: str) -> None:
        self.raw = raw
        self.script_name = script_name
        self.head_only = head_only
        self.status: int | None = None  # set once the answer's head is sent
        self._head = bytearray()
        self._left: int | None = None  # body bytes the script's Content-Length still allows
        self._discard = head_only

    def feed(self, data: bytes) -> None:
        if self.status is None:
            self._head += data
            match = _BLANK_LINE.search(self._head)
            if match is None:
                if len(self._head) > MAX_SCRIPT_HEAD:
                    self._fail("sent a CGI header block over 64 KiB")
                return
            data = bytes(self._head[match.end() :])
            self._send_head(bytes(self._head[: match.start()]))
            self._head = bytearray()
        if self._discard:
            return
        if self._left is not None:
            data = data[: self._left]
            self._left -= len(data)
        if data:
            self.raw.write(data)

    def finish(self) -> int:
        """The status sent, answering 502 if the script never ended its header block."""
        if self.status is None:
            self._fail("sent no CGI headers")
        assert self.status is not None
        return self.status

    def _send_head(self, head: bytes) -> None:
        """RFC 3875 6: Status, Location and the other header lines of the script."""
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.replace(b"\r\n", b"\n").decode("latin-1").split("\n"):
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon or not name or _BAD_VALUE.search(line):
                self._fail("sent a malformed header line")
                return
            if name.lower() == "status":
                code = value.split(" ", 1)[0]
                if not _STATUS.fullmatch(code):
                    self._fail(f"sent a bad Status {value[:50]!r}")
                    return
                status = int(code)
            elif name.lower() == "content-length":
                if _DIGITS.fullmatch(value):
                    self._left = int(value)
            else:
                headers.append((name, value))
        if status == 200 and any(n.lower() == "location" for n, _ in headers):
            status = 302
        lines = [status_line(status, unknown="Status"), *(f"{n}: {v}" for n, v in headers)]
        if self._left is not None:
            lines.append(f"Content-Length: {self._left}")
        lines.append("Connection: close")
        self.status = status
        self.raw.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _fail(self, problem: str) -> None:
        _logger.warning("CGI %r %s; answering 502", self.script_name, problem)
        self.status = 502
        self._discard = True
        self.raw.write(
            error_response(502, f"{self.script_name} {problem}", head_only=self.head_only)
        )


def _run_script(
    real: str, env: dict[str, str], body: bytes, output: _Output, timeout: float
) -> int:
    """Run the script in a process group of its own; kill the whole group at the deadline."""
    name = output.script_name
    try:
        proc = subprocess.Popen(
            [real],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=os.path.dirname(real),
            start_new_session=True,
        )
    except OSError as exc:
        _logger.warning("CGI %r could not run: %s", name, exc)
        output.raw.write(error_response(500, f"{name} could not run", head_only=output.head_only))
        return 500
    deadline = time.monotonic() + timeout
    stderr = bytearray()
    finished = False
    try:
        if _pump(proc, body, output, stderr, deadline):
            proc.wait(max(0.0, deadline - time.monotonic()))
            finished = True
    except subprocess.TimeoutExpired:
        pass
    finally:
        if not finished:  # the deadline passed, or the client went away
            # The group is the script's session (start_new_session); the script is
            # not reaped yet, so its id cannot have been reused.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.kill()  # in case it left its group
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if stderr:
        _logger.info("CGI %r stderr: %r", name, stderr.decode("utf-8", "replace"))
    if not finished:
        _logger.warning("CGI %r did not finish within %gs; killed its process group", name, timeout)
        if output.status is None:
            output.raw.write(error_response(504, f"{name} timed out", head_only=output.head_only))
            return 504
        return output.status  # the client sees the body cut short
    return output.finish()


def _pump(
    proc: subprocess.Popen[bytes], body: bytes, output: _Output, stderr: bytearray, deadline: float
) -> bool:
    """Feed ``body`` to the script and its output on, until it closes both; False at the
    deadline. At most 2000 bytes of stderr are kept, for the log."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    view = memoryview(body)
    sent = 0
    with selectors.DefaultSelector() as selector:
        if body:
            selector.register(proc.stdin, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in selector.select(left):
                if key.fileobj is proc.stdin:
                    try:
                        sent += os.write(key.fd, view[sent : sent + _PIPE_BUF])
                    except BrokenPipeError:  # the script does not read its input
                        sent = len(view)
                    if sent >= len(view):
                        selector.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, READ_SIZE)
                if not data:
                    selector.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    output.feed(data)
                elif len(stderr) < 2000:
                    stderr += data[: 2000 - len(stderr)]
    return True
