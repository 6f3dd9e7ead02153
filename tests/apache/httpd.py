"""Run a real Apache httpd + mod_python under test control.

A throwaway server root is generated in a temporary directory: httpd.conf,
error_log, pid file and runtime files all live there, nothing under /etc or
/var is touched.  httpd runs in the foreground (``-DFOREGROUND``) as a child of
the test process, listening on ``127.0.0.1:<free port>``.

Use from pytest::

    from tests.apache.httpd import ApacheServer

    with ApacheServer(handler_root=HANDLERS) as server:
        connect(("127.0.0.1", server.port))

or through the ``apache_server`` / ``apache_factory`` fixtures in
``tests/apache/conftest.py``.

By hand (prints the port, serves until Ctrl-C)::

    python tests/apache/httpd.py --handler-root example
    python tests/apache/httpd.py --probe          # the mod_python probe handler

Choices, each verified on Debian bookworm (apache2 2.4, mod_python 3.5 built
against the system /usr/bin/python3.11):

* MPM event, one child process (``ServerLimit 1``) with many threads.  Handlers
  keep module-level state shared by all their connections (locks, condition
  variables, counters), so every connection must run in the same process and
  the same Python interpreter: prefork would split them across processes, and
  ``-X`` (one process, one thread) would serialise them.
* As root, httpd's children switch to ``User``/``Group``; we use the owner of
  nothing special, ``www-data`` (or ``nobody``), so every file the server
  reads (the repo's ``src``, the handler directory, the document root) must be
  world-readable.  The generated server root is made world-readable for the
  same reason.  As a normal user ``User``/``Group`` are ignored by httpd.
* No mod_reqtimeout, and a long ``Timeout``: an idle WebSocket must not be cut
  by request-read timeouts.
* ``KeepAlive On`` (httpd's default, stated explicitly): the issue requires the
  WebSocket to close TCP even so.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = REPO_ROOT / "src"
PROBE_DIR = Path(__file__).resolve().parent / "probe"

APACHE_BIN_CANDIDATES = ("/usr/sbin/apache2", "/usr/sbin/httpd", "apache2", "httpd")
MODULE_DIR_CANDIDATES = (
    "/usr/lib/apache2/modules",  # Debian / Ubuntu
    "/usr/lib64/httpd/modules",  # Fedora / RHEL
    "/usr/lib/httpd/modules",
    "/usr/libexec/apache2",
)

# Modules loaded besides the MPM and mod_python.  authz_core gives
# ``Require all granted``; mime and dir make the DECLINED path serve static
# files the way a stock Apache does.
BASE_MODULES = ("authz_core", "mime", "dir")

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

# Enough for the static files tests serve on the DECLINED path.
MIME_TYPES = """\
text/html html htm
text/plain txt
text/css css
text/javascript js
application/json json
image/png png
"""

DEFAULT_HEADER_PARSER = "mod_pywebsocket.headerparserhandler"


class ApacheNotAvailable(RuntimeError):
    """apache2 or mod_python is not installed on this machine."""


class ApacheStartError(RuntimeError):
    """httpd did not come up; the message carries its error_log."""


def find_apache_binary() -> str:
    for candidate in APACHE_BIN_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    raise ApacheNotAvailable("no apache2/httpd binary (apt-get install apache2)")


def find_module_dir() -> Path:
    for candidate in MODULE_DIR_CANDIDATES:
        if (Path(candidate) / "mod_python.so").exists():
            return Path(candidate)
    raise ApacheNotAvailable("no mod_python.so (apt-get install libapache2-mod-python)")


def apache_available() -> str | None:
    """None when Apache + mod_python can run here, else the reason why not."""
    try:
        find_apache_binary()
        find_module_dir()
    except ApacheNotAvailable as e:
        return str(e)
    return None


REQUIRE_ENV = "PYWEBSOCKET_REQUIRE_APACHE"


def require_apache() -> None:
    """Skip the calling test (or, with PYWEBSOCKET_REQUIRE_APACHE=1, fail it)
    when apache2 or mod_python is missing."""
    import pytest

    reason = apache_available()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[str, str] | None:
    """The User/Group httpd's children take when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for user in ("www-data", "nobody", "daemon"):
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            continue
        import grp

        return user, grp.getgrgid(pw.pw_gid).gr_name
    raise ApacheStartError("running as root but found no unprivileged user for httpd")


def _quote(value: str | os.PathLike[str]) -> str:
    text = str(value)
    if '"' in text or "\n" in text:
        raise ValueError(f"cannot put {text!r} in httpd.conf")
    return f'"{text}"'


def python_path_directive(dirs: Sequence[str | os.PathLike[str]]) -> str:
    """``PythonPath`` putting ``dirs`` first on mod_python's sys.path."""
    items = ", ".join(repr(str(d)) for d in dirs)
    # Prepending (rather than sys.path+[...]) makes the package under test win
    # over any mod_pywebsocket installed in the system python.
    return f'PythonPath "[{items}] + sys.path"'


def build_config(
    *,
    server_root: Path,
    port: int,
    module_dir: Path,
    document_root: Path,
    header_parser: str | None,
    python_path: Sequence[str | os.PathLike[str]],
    python_options: Mapping[str, str],
    mpm: str = "event",
    threads: int = 64,
    keepalive: bool = True,
    timeout: int = 300,
    log_level: str = "info",
    extra_modules: Sequence[str] = (),
    extra_conf: str = "",
) -> str:
    lines = [
        "# Generated by tests/apache/httpd.py",
        f"ServerRoot {_quote(server_root)}",
        f"DefaultRuntimeDir {_quote(server_root / 'run')}",
        f"PidFile {_quote(server_root / 'run' / 'httpd.pid')}",
        f"ErrorLog {_quote(server_root / 'error_log')}",
        f"LogLevel {log_level}",
        "ServerName 127.0.0.1",
        f"Listen 127.0.0.1:{port}",
        "",
        f"LoadModule mpm_{mpm}_module {_quote(module_dir / f'mod_mpm_{mpm}.so')}",
    ]
    for name in (*BASE_MODULES, *extra_modules):
        lines.append(f"LoadModule {name}_module {_quote(module_dir / f'mod_{name}.so')}")
    lines.append(f"LoadModule python_module {_quote(module_dir / 'mod_python.so')}")
    lines.append("")
    run_as = _run_as()
    if run_as:
        lines += [f"User {run_as[0]}", f"Group {run_as[1]}"]
    if mpm == "prefork":
        lines += [
            "StartServers 2",
            "MinSpareServers 2",
            "MaxSpareServers 4",
            f"MaxRequestWorkers {threads}",
            f"ServerLimit {threads}",
        ]
    else:
        # One child, all connections in one process and one interpreter.
        lines += [
            "StartServers 1",
            "ServerLimit 1",
            f"ThreadLimit {threads}",
            f"ThreadsPerChild {threads}",
            f"MaxRequestWorkers {threads}",
            "MinSpareThreads 1",
            f"MaxSpareThreads {threads}",
            "MaxConnectionsPerChild 0",
        ]
    lines += [
        f"Timeout {timeout}",
        f"KeepAlive {'On' if keepalive else 'Off'}",
        "KeepAliveTimeout 5",
        "",
        f"DocumentRoot {_quote(document_root)}",
        f"<Directory {_quote(document_root)}>",
        "    Require all granted",
        "</Directory>",
        "DirectoryIndex index.html",
        f"TypesConfig {_quote(server_root / 'mime.types')}",
        "",
        python_path_directive(python_path),
    ]
    for key, value in python_options.items():
        lines.append(f"PythonOption {key} {_quote(value)}")
    if header_parser:
        lines.append(f"PythonHeaderParserHandler {header_parser}")
    if extra_conf:
        lines += ["", extra_conf]
    return "\n".join(lines) + "\n"


class ApacheServer:
    """One httpd process with a generated config.  ``start()`` returns the port."""

    def __init__(
        self,
        handler_root: str | os.PathLike[str] | None = None,
        handler_scan: str | os.PathLike[str] | None = None,
        *,
        allow_handlers_outside_root_dir: bool | None = None,
        header_parser: str | None = DEFAULT_HEADER_PARSER,
        python_path: Sequence[str | os.PathLike[str]] = (),
        python_options: Mapping[str, str] | None = None,
        document_root: str | os.PathLike[str] | None = None,
        mpm: str = "event",
        threads: int = 64,
        keepalive: bool = True,
        timeout: int = 300,
        log_level: str = "info",
        extra_modules: Sequence[str] = (),
        extra_conf: str = "",
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.apache_bin = find_apache_binary()
        self.module_dir = find_module_dir()
        options: dict[str, str] = {}
        if handler_root is not None:
            options["mod_pywebsocket.handler_root"] = str(Path(handler_root).resolve())
        if handler_scan is not None:
            options["mod_pywebsocket.handler_scan"] = str(Path(handler_scan).resolve())
        if allow_handlers_outside_root_dir is not None:
            options["mod_pywebsocket.allow_handlers_outside_root_dir"] = (
                "On" if allow_handlers_outside_root_dir else "Off"
            )
        options.update(python_options or {})
        self.python_options = options
        self.header_parser = header_parser
        self.python_path = [*python_path, SRC_DIR]
        self._document_root = Path(document_root).resolve() if document_root else None
        self.mpm = mpm
        self.threads = threads
        self.keepalive = keepalive
        self.timeout = timeout
        self.log_level = log_level
        self.extra_modules = tuple(extra_modules)
        self.extra_conf = extra_conf
        self._base_dir_arg = base_dir
        self._owns_base_dir = base_dir is None
        self.base_dir: Path | None = None
        self.port: int | None = None
        self._pending_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    # -- paths ------------------------------------------------------------

    @property
    def error_log_path(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "error_log"

    @property
    def config_path(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "httpd.conf"

    @property
    def document_root(self) -> Path:
        if self._document_root is not None:
            return self._document_root
        assert self.base_dir is not None
        return self.base_dir / "htdocs"

    def error_log(self) -> str:
        """The whole error_log so far ('' before start)."""
        if self.base_dir is None:
            return ""
        try:
            return self.error_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # -- lifecycle --------------------------------------------------------

    def _prepare(self) -> None:
        if self._base_dir_arg is not None:
            self.base_dir = Path(self._base_dir_arg).resolve()
            self.base_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.base_dir = Path(tempfile.mkdtemp(prefix="pywebsocket-httpd-"))
        # mkdtemp makes 0700; httpd's children (www-data when we are root)
        # must read the document root under it.
        self.base_dir.chmod(0o755)
        (self.base_dir / "run").mkdir(exist_ok=True)
        (self.base_dir / "mime.types").write_text(MIME_TYPES)
        if self._document_root is None:
            htdocs = self.base_dir / "htdocs"
            htdocs.mkdir(exist_ok=True)
            (htdocs / "index.html").write_text("<!doctype html><p>apache static index</p>\n")
            (htdocs / "static.txt").write_text("static file served by apache\n")

    def _write_config(self, port: int) -> None:
        assert self.base_dir is not None
        self.config_path.write_text(
            build_config(
                server_root=self.base_dir,
                port=port,
                module_dir=self.module_dir,
                document_root=self.document_root,
                header_parser=self.header_parser,
                python_path=self.python_path,
                python_options=self.python_options,
                mpm=self.mpm,
                threads=self.threads,
                keepalive=self.keepalive,
                timeout=self.timeout,
                log_level=self.log_level,
                extra_modules=self.extra_modules,
                extra_conf=self.extra_conf,
            )
        )

    def check_config(self) -> None:
        """``apache2 -t`` on the generated config; raises with its output."""
        result = subprocess.run(
            [self.apache_bin, "-t", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            env=self._env(),
        )
        if result.returncode != 0:
            raise ApacheStartError(
                f"httpd config test failed:\n{result.stdout}{result.stderr}\n"
                f"--- {self.config_path}\n{self.config_path.read_text()}"
            )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # mod_python embeds the system python: a virtualenv's or pyenv's
        # variables would point it at the wrong standard library.
        for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "VIRTUAL_ENV"):
            env.pop(name, None)
        # libpython finds its standard library from the first "python3" on
        # PATH.  With pyenv's (or a venv's) python3 first, the embedded
        # interpreter takes that prefix, cannot read it as www-data, and every
        # child dies with "No module named 'encodings'".  Give httpd the PATH
        # a service manager would.
        env["PATH"] = SYSTEM_PATH
        env["LANG"] = env.get("LANG") or "C.UTF-8"
        return env

    def start(self, timeout: float = 20.0, attempts: int = 3) -> int:
        """Start httpd; return the port once it accepts connections."""
        if self.process is not None:
            raise RuntimeError("already started")
        self._prepare()
        last_error: Exception | None = None
        for _ in range(attempts):
            port = free_port()
            self._write_config(port)
            self.check_config()
            log_offset = len(self.error_log())
            self.process = subprocess.Popen(
                [self.apache_bin, "-f", str(self.config_path), "-DFOREGROUND"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self._env(),
                start_new_session=True,  # our own process group, killed on stop
            )
            try:
                self._wait_ready(port, timeout)
            except ApacheStartError as e:
                self._terminate()
                last_error = e
                if "Address already in use" in self.error_log()[log_offset:]:
                    continue  # lost the race for the free port; pick another
                raise
            self.port = port
            return port
        raise ApacheStartError(f"httpd could not bind a port: {last_error}")

    def _wait_ready(self, port: int, timeout: float) -> None:
        assert self.process is not None
        self._pending_port = port
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ApacheStartError(
                    f"httpd exited with status {code} during startup\n"
                    f"--- error_log\n{self.error_log()}"
                )
            log = self.error_log()
            if "Fatal Python error" in log or "AH00016" in log:
                raise ApacheStartError(
                    f"httpd's children cannot start mod_python\n--- error_log\n{log}"
                )
            # The listening socket is the parent's and accepts before any
            # child runs: wait for a real HTTP answer from a child, so the
            # first test request doesn't race the child's startup.
            if self._child_ready():
                return
            time.sleep(0.05)
        raise ApacheStartError(
            f"httpd did not answer on 127.0.0.1:{port} within {timeout}s\n"
            f"--- error_log\n{self.error_log()}"
        )

    def _child_ready(self) -> bool:
        """True once a child process answers an HTTP request (any status)."""
        assert self.process is not None
        try:
            with socket.create_connection(("127.0.0.1", self._pending_port), timeout=5) as s:
                s.sendall(b"HEAD /__httpd_ready__ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def _terminate(self) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            # SIGTERM to the parent: it stops its children and exits.  A child
            # whose worker thread sits in a handler's blocking read doesn't
            # exit on SIGTERM (httpd escalates to SIGKILL only after ~10s), so
            # don't wait for that.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        # Children of ours that outlived the parent (a handler thread stuck in
        # a blocking read keeps its process alive): kill our process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self.process = None

    def stop(self) -> None:
        self._terminate()
        self.port = None

    def cleanup(self) -> None:
        self.stop()
        if self._owns_base_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> ApacheServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@contextlib.contextmanager
def running_apache(**kwargs: object) -> Iterator[ApacheServer]:
    """Context manager form; keeps the server root when the body raised."""
    server = ApacheServer(**kwargs)  # type: ignore[arg-type]
    server.start()
    failed = False
    try:
        yield server
    except BaseException:
        failed = True
        raise
    finally:
        server.stop()
        if failed:
            sys.stderr.write(
                f"--- httpd error_log ({server.error_log_path})\n{server.error_log()}\n"
            )
        else:
            server.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-w", "--handler-root", help="mod_pywebsocket.handler_root")
    parser.add_argument("-s", "--handler-scan", help="mod_pywebsocket.handler_scan")
    parser.add_argument("--allow-handlers-outside-root-dir", action="store_true", default=None)
    parser.add_argument("-d", "--document-root")
    parser.add_argument("--probe", action="store_true", help="run the mod_python probe handler")
    parser.add_argument("--mpm", default="event", choices=("event", "worker", "prefork"))
    parser.add_argument("--keepalive", default="on", choices=("on", "off"))
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--keep", help="use (and keep) this directory as the server root")
    args = parser.parse_args(argv)

    if args.probe:
        kwargs: dict[str, object] = dict(
            header_parser="probe_handler", python_path=[PROBE_DIR], handler_root=PROBE_DIR
        )
    else:
        if not args.handler_root:
            parser.error("--handler-root is required (or --probe)")
        kwargs = dict(handler_root=args.handler_root, handler_scan=args.handler_scan)
    server = ApacheServer(
        **kwargs,  # type: ignore[arg-type]
        allow_handlers_outside_root_dir=args.allow_handlers_outside_root_dir,
        document_root=args.document_root,
        mpm=args.mpm,
        keepalive=args.keepalive == "on",
        log_level=args.log_level,
        base_dir=args.keep,
    )
    try:
        port = server.start()
    except ApacheStartError as e:
        print(e, file=sys.stderr)
        return 1

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Also when started with "&" from a script, where SIGINT is ignored.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"httpd listening on 127.0.0.1:{port}", flush=True)
    print(f"server root {server.base_dir} (httpd.conf, error_log)", flush=True)
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if args.keep:
            server.stop()
        else:
            server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
