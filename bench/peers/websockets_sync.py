"""Echo server: websockets' threaded (sync) implementation, compression off."""

import sys

from websockets.sync.server import serve


def echo(websocket):
    for message in websocket:
        websocket.send(message)


with serve(echo, "127.0.0.1", int(sys.argv[1]), compression=None, max_size=None) as server:
    server.serve_forever()
