"""The standalone server as a child process, for the scripts that drive one
(conformance.py, soak.py): a free port, the command line, the wait for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "example")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(port: int, handlers: str, engine: str, *extra: str) -> subprocess.Popen[bytes]:
    """``python -m mod_pywebsocket.standalone`` on 127.0.0.1:``port`` serving
    ``handlers`` (-w) on ``engine``, the examples as its document root, errors
    only in its log, then ``extra``."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mod_pywebsocket.standalone",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            os.path.abspath(handlers),
            "-d",
            EXAMPLE,
            "--log-level",
            "error",
            "--engine",
            engine,
            *extra,
        ]
    )


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Return once the port takes connections; SystemExit after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not start on port {port}")
