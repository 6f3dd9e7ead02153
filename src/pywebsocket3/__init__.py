"""pywebsocket3: the newer import name of mod_pywebsocket.

Handlers written for pywebsocket3 (``from pywebsocket3 import msgutil``) get
the very same module objects as ``mod_pywebsocket``'s, so exceptions, constants
and state are shared; there is no second implementation. ``standalone`` is a small file of its own
so that ``python -m pywebsocket3.standalone`` runs.
"""

from __future__ import annotations

import importlib
import sys

_PUBLIC_MODULES = (
    "common",
    "msgutil",
    "stream",
    "handshake",
    "handshake.hybi",
    "options",
    "http_header_util",
    "util",
    "memorizingfile",
    "server_util",
)

for _name in _PUBLIC_MODULES:
    _module = importlib.import_module(f"mod_pywebsocket.{_name}")
    sys.modules[f"{__name__}.{_name}"] = _module
    if "." not in _name:
        globals()[_name] = _module
