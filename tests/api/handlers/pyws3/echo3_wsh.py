# Written for pywebsocket3: its import names, its msgutil helpers.
from pywebsocket3 import common, msgutil, stream


def web_socket_do_extra_handshake(request):
    if request.ws_requested_protocols:
        request.ws_protocol = request.ws_requested_protocols[-1]


def web_socket_transfer_data(request):
    while True:
        message = msgutil.receive_message(request)
        if message is None:
            return
        if message == 'opcode':
            msgutil.send_message(request, str(request.ws_stream.get_last_received_opcode()))
            continue
        msgutil.send_message(request, message, binary=isinstance(message, bytes))


def web_socket_passive_closing_handshake(request):
    return common.STATUS_NORMAL_CLOSURE, 'bye from pywebsocket3'
