# A chat room at /example/chat: every message is sent to every connected client.

import threading

_lock = threading.Lock()
_clients = set()


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    with _lock:
        _clients.add(request)
    try:
        while True:
            message = request.ws_stream.receive_message()
            if message is None:
                return
            with _lock:
                clients = list(_clients)
            for client in clients:
                try:
                    client.ws_stream.send_message(message, binary=isinstance(message, bytes))
                except Exception:
                    pass  # that client is going away; its own thread cleans up
    finally:
        with _lock:
            _clients.discard(request)
