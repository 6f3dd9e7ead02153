"""The standalone server in a child process, for tests that measure its memory."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path


class ServerProcess:
    """``python -m mod_pywebsocket.standalone ARGS -p 0`` and its resident memory."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mod_pywebsocket.standalone",
                "-H",
                "127.0.0.1",
                "-p",
                "0",
                "--log-level",
                "warning",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        match = re.search(r"at wss?://[^ ]*:(\d+)/", line)
        if match is None:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line}")
        self.port = int(match.group(1))

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")

    def reset_peak(self) -> None:
        """Start measuring the peak RSS from now (Linux: clear_refs 5 resets VmHWM)."""
        time.sleep(0.2)
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        self._base = self._status_kib("VmRSS")

    def peak_growth(self) -> int:
        """Bytes the peak RSS rose above the RSS at :meth:`reset_peak`."""
        return (self._status_kib("VmHWM") - self._base) * 1024

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
