# Module-level state is shared by every connection to this handler.
import threading

_lock = threading.Lock()
_connections = [0]


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    with _lock:
        _connections[0] += 1
        number = _connections[0]
    request.ws_stream.send_message('connection %d' % number)
    request.ws_stream.receive_message()
