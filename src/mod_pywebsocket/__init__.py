"""mod_pywebsocket: a WebSocket server that runs *_wsh.py handlers unchanged.

Importing it makes ``pywebsocket3`` an alias of this package in this process
(see ``_mod_pywebsocket_alias``), so handlers written for either name share
one implementation.
"""

from __future__ import annotations

from typing import Any

import _mod_pywebsocket_alias

_mod_pywebsocket_alias.install(first=True)


__all__ = ["Server", "ServerOptions", "__version__"]


def __getattr__(name: str) -> Any:
    # The embedding API is imported on first use, so that a handler's
    # ``from mod_pywebsocket import msgutil`` does not load the server.
    if name in ("Server", "ServerOptions"):
        from . import embedding

        return getattr(embedding, name)
    # __version__ is read from the installed metadata on first use: importing
    # importlib.metadata costs 40 ms, and suites start the server with a fixed
    # warm-up sleep (pywebsocket3's own waits 0.2 s).
    if name == "__version__":
        from importlib import metadata

        try:
            version = metadata.version("mod_pywebsocket")
        except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
            version = "0+unknown"
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
