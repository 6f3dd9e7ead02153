"""mod_pywebsocket: a WebSocket server that runs *_wsh.py handlers unchanged."""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__: str = _metadata.version("mod_pywebsocket")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"
