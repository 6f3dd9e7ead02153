"""mod_pywebsocket: a WebSocket server that runs *_wsh.py handlers unchanged.

Importing it makes ``pywebsocket3`` an alias of this package in this process
(see ``_mod_pywebsocket_alias``), so handlers written for either name share
one implementation.
"""

from __future__ import annotations

from importlib import metadata as _metadata

import _mod_pywebsocket_alias

_mod_pywebsocket_alias.install(first=True)

try:
    __version__: str = _metadata.version("mod_pywebsocket")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"
