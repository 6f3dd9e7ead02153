"""mod_pywebsocket: a WebSocket server that runs *_wsh.py handlers unchanged.

Importing it makes ``pywebsocket3`` an alias of this package in this process
(see ``_mod_pywebsocket_alias``), so handlers written for either name share
one implementation.
"""

from __future__ import annotations

import _mod_pywebsocket_alias

_mod_pywebsocket_alias.install(first=True)


def __getattr__(name: str) -> str:
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
