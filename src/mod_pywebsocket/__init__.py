"""mod_pywebsocket: a WebSocket server that runs *_wsh.py handlers unchanged."""
