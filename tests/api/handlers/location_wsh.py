# Older WebKit handlers tell HyBi 00 from RFC 6455 by ws_location, compute the
# URL with handshake._base.build_location, and use six for str/bytes checks.
import six

from mod_pywebsocket import msgutil
from mod_pywebsocket.handshake._base import build_location


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    if hasattr(request, 'ws_location'):
        location = request.ws_location
    else:
        location = build_location(request)
    msgutil.send_message(request, location)
    message = msgutil.receive_message(request)
    msgutil.send_message(request, 'text' if isinstance(message, six.text_type) else 'bytes')
