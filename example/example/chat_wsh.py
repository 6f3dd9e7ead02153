# A chat room at /example/chat: every message is sent to every connected client.
#
# Each member gets a BoundedMessageSender: broadcasting only queues, so a member
# who stops reading delays nobody else. When a member falls 1 MiB (or 1024
# messages) behind, that member alone is disconnected with 1008.

import threading

from mod_pywebsocket import msgutil

_lock = threading.Lock()
_senders = {}


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    sender = msgutil.BoundedMessageSender(request)
    with _lock:
        _senders[request] = sender
    try:
        while True:
            message = request.ws_stream.receive_message()
            if message is None:
                return
            with _lock:
                senders = list(_senders.values())
            for member in senders:
                member.send_nowait(message, binary=isinstance(message, bytes))
    finally:
        with _lock:
            del _senders[request]
        sender.close()
