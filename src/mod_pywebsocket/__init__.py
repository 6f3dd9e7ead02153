"""mod_pywebsocket: a WebSocket server that runs *_wsh.py handlers unchanged.

Importing it makes ``pywebsocket3`` an alias of this package in this process
(see ``_mod_pywebsocket_alias``), so handlers written for either name share
one implementation.
"""

import _mod_pywebsocket_alias

_mod_pywebsocket_alias.install(first=True)
